"""The HTML reports open in headless Chromium offline, without errors, with their charts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from showcase.cli.main import main
from showcase.datasets import generate_table, write_table

from .helpers import compare

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def browse(
    url: str, steps, shot: str, *, local=("file:",), warnings: bool = False, size=(1300, 1000), probe=False
) -> dict:
    """Open ``url`` in Chromium and run ``steps(page)`` (what it returns is added to the answer).

    The answer also holds the console and page errors (and warnings, if
    asked) and every request to anything but ``local``; a screenshot is
    saved to the artefacts folder as ``shot``. ``probe``: the steps evaluate
    script text in the page (Playwright's ``wait_for_function``), which the
    explorer's Content-Security-Policy forbids, so the policy is bypassed.
    """
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    kinds = ("error", "warning") if warnings else ("error",)
    found = {"errors": [], "requests": []}
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]}, bypass_csp=probe)
        page.on("console", lambda m: m.type in kinds and found["errors"].append(m.text))
        page.on("pageerror", lambda e: found["errors"].append(str(e)))
        page.on("request", lambda r: r.url.startswith(local) or found["requests"].append(r.url))
        page.goto(url)
        found.update(steps(page) or {})
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        browser.close()
    return found


def open_in_chromium(page_path: Path, screenshot: Path) -> dict:
    """Load a page; return its SVG count, console/page errors and non-file requests."""

    def read(page) -> dict:
        page.wait_for_load_state("load")
        return {
            "svg": page.locator("svg.chart").count(),
            "bars": page.locator("svg.chart rect").count(),
            "title": page.title(),
        }

    return browse(page_path.as_uri(), read, Path(screenshot).name, warnings=True, size=(1200, 900))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    path = folder / "cases.csv"
    write_table(generate_table(3000, 6, seed=11), path)
    return path


def test_evaluation_report_in_chromium(generated, tmp_path):
    release = tmp_path / "release"
    assert main(["aggregate", str(generated), "-o", str(release), "-k", "5", "--no-progress"]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", str(generated), str(generated), "-o", str(out), "-k", "5", "--no-progress"]) == 0
    shown = open_in_chromium(out / "report.html", ARTIFACTS / "evaluation-report.png")
    assert shown["errors"] == [] and shown["requests"] == []
    assert shown["svg"] == 3 + 6  # three metric charts and one per column
    assert shown["bars"] > 20
    assert shown["title"] == "showcase evaluation"
    assert (ARTIFACTS / "evaluation-report.png").stat().st_size > 10_000


def test_comparison_report_in_chromium(generated, tmp_path, capsys):
    out = tmp_path / "cmp"
    code, _, stderr = compare(capsys, generated, out, ["aggregate:k=5", "aggregate:k=20"], "--seed", 1)
    assert code == 0, stderr
    shown = open_in_chromium(out / "report.html", ARTIFACTS / "comparison-report.png")
    assert shown["errors"] == [] and shown["requests"] == []
    assert shown["svg"] == 4
