"""The explorer and the static report, end to end in headless Chromium (offline, no console errors)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from showcase.cli.main import main

from .test_report_browser import browse

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def linked(tmp_path_factory) -> tuple[Path, Path]:
    """Two releases (DP and k-anonymous) of generated linked cases."""
    folder = tmp_path_factory.mktemp("explorer-browser")
    os.environ["SHOWCASE_LEDGER"] = str(folder / "ledger.sqlite")
    assert (
        main(["datasets", "generate", "cases", "--rows", "2000", "--seed", "9", "--out", str(folder / "c")])
        == 0
    )
    victims, book = str(folder / "c" / "victims.csv"), str(folder / "c" / "codebook.yaml")
    assert main(["run", victims, "--codebook", book, "--dp", "--epsilon", "6", "-o", str(folder / "dp"),
                 "--seed", "2", "--no-progress"]) == 0  # fmt: skip
    assert main(["run", victims, "--codebook", book, "-k", "5", "-l", "2", "-o", str(folder / "kanon"),
                 "--seed", "2", "--no-progress"]) == 0  # fmt: skip
    assert main(["evaluate", victims, str(folder / "kanon"), "--codebook", book, "-l", "2",
                 "-o", str(folder / "eval")]) == 0  # fmt: skip
    return folder / "dp", folder / "kanon"


@pytest.fixture(scope="module")
def server(linked):
    """The explorer on a free local port, in a thread."""
    import uvicorn

    from showcase.engine import explorer_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = explorer_app(list(linked), evaluation=linked[0].parent / "eval" / "evaluation.json")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(100):
        if running.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    running.should_exit = True
    thread.join(timeout=5)


def open_explorer(url: str, steps, shot: str, *, probe: bool = False) -> dict:
    """Open the explorer at ``url`` (a local server or a report file), wait until ready, run ``steps``.

    ``probe``: the steps wait on script conditions (see :func:`browse`); without it the page runs
    under the server's Content-Security-Policy, and a violation is a console error.
    """

    def ready_then(page):
        page.wait_for_selector("body[data-ready='1']")
        return steps(page)

    return browse(url, ready_then, shot, local=("file:", "http://127.0.0.1"), probe=probe)


def bar(page, column: str, value: str):
    return page.locator(f".chart[data-column='{column}'] .bar[data-value='{value}']")


def pick_two_and_read(page) -> dict:
    """Select gender = Female and a perpetrator relation; return the shown bars and the URL."""
    page.click("#tabs button[data-page='explore']")
    page.wait_for_selector(".chart[data-column='gender'] .bar")
    bar(page, "gender", "Female").click()
    page.wait_for_selector(".chart[data-column='gender'] .bar.selected")
    relation = page.locator(".chart[data-column='perp_relation_to_victim'] .bar").first.get_attribute(
        "data-value"
    )
    bar(page, "perp_relation_to_victim", relation).click()
    page.wait_for_selector(".chart[data-column='perp_relation_to_victim'] .bar.selected")
    shown = {}
    for row in page.locator(".chart[data-column='age'] .bar").all():
        shown[row.get_attribute("data-value")] = int(row.get_attribute("data-synthetic"))
    return {"relation": relation, "age": shown, "url": page.url, "chips": page.locator(".chip").count()}


#: The pages every explorer has (Explore is checked on its own), and the owner's Quality page.
PAGES, QUALITY = ("overview", "compare", "download"), ("quality",)


def accessibility_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now (rule id, impact, first element)."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    found = axe.Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in found]


def revisit(url: str, pages: tuple[str, ...]):
    """Steps: open a shared ``url``, reload, check the selection came back, then visit ``pages``.

    Every page, Explore included, is checked with axe-core once drawn.
    """

    def steps(page):
        page.goto(url)
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector(".chart[data-column='gender'] .bar.selected")
        state = {"chips": page.locator(".chip").count(), "headline": page.locator("#total").inner_text()}
        state["a11y"] = {"explore": accessibility_violations(page)}
        for name in pages:
            refreshes = int(page.evaluate("document.body.dataset.settled || 0"))
            page.click(f"#tabs button[data-page='{name}']")
            page.wait_for_selector(f"#{name}.page.active")
            page.wait_for_function(f"Number(document.body.dataset.settled || 0) > {refreshes}")  # drawn
            state["a11y"][name] = accessibility_violations(page)
            if name == "compare":
                state["compared_bars"] = compared_bars(page)
        state["downloads"] = page.locator("#download tr").count() - 1
        state["compared"] = page.locator("#comparison .chart.compared").count()
        state["quality_tables"] = page.locator("#quality table").count()
        state["left_out"] = page.locator("#overview li").count()
        return state

    return steps


def compared_bars(page) -> dict:
    """The Compare page's age chart: value -> (first release's number, second's)."""
    rows = page.locator("#comparison .chart.compared[data-column='age'] .bar").all()
    return {r.get_attribute("data-value"): (int(r.get_attribute("data-first")),
                                             int(r.get_attribute("data-second"))) for r in rows}  # fmt: skip


def by_keyboard(page) -> dict:
    """Select gender = Female with the keyboard alone, then unselect it; where is the focus each time?"""
    page.click("#tabs button[data-page='explore']")
    page.wait_for_selector(".chart[data-column='gender'] .bar")
    focused = (
        "document.activeElement.dataset.value + '|' + document.activeElement.getAttribute('aria-pressed')"
    )
    page.focus(".chart[data-column='gender'] .bar[data-value='Female']")
    page.keyboard.press("Enter")
    page.wait_for_selector(".chart[data-column='gender'] .bar.selected")
    # The charts redraw after the answer arrives and give the focus back to the bar: wait for that
    # (on a loaded machine a key pressed in between lands on the bar being replaced).
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.activeElement && document.activeElement.matches('.bar.selected')")
    after_select = {"focus": page.evaluate(focused), "chips": page.locator(".chip").count()}
    page.keyboard.press(" ")
    page.wait_for_selector(".chart[data-column='gender'] .bar.selected", state="detached")
    return {
        "selected": after_select,
        "unselected": page.evaluate(focused),
        "chips": page.locator(".chip").count(),
    }


def answers_out_of_order(page) -> dict:
    """Select Female, hold that answer back, unselect, then let the stale answer arrive last."""
    page.click("#tabs button[data-page='explore']")
    page.wait_for_selector(".chart[data-column='gender'] .bar")
    before = ages(page)
    held = []

    def hold_the_selection(route):
        if "Female" in route.request.url and not held:
            held.append(route)  # answered below, after the newer request
        else:
            route.continue_()

    def settled_after(n: int) -> None:
        page.wait_for_function(f"Number(document.body.dataset.settled || 0) >= {n}")

    page.route("**/explore?*", hold_the_selection)
    before_refreshes = int(page.evaluate("document.body.dataset.settled || 0"))
    page.focus(".chart[data-column='gender'] .bar[data-value='Female']")
    page.keyboard.press("Enter")
    for _ in range(400):
        if held:
            break
        page.wait_for_timeout(25)
    page.keyboard.press(" ")  # the bar still has the focus: unselect before the first answer came
    settled_after(before_refreshes + 1)  # the newer (empty) selection's answer is drawn
    held[0].continue_()
    settled_after(before_refreshes + 2)  # the late answer has arrived and been handled
    return {"held": len(held), "selected": page.locator(".bar.selected").count(),
            "chips": page.locator(".chip").count(), "ages_unchanged": ages(page) == before}  # fmt: skip


def ages(page) -> dict:
    """The age chart's synthetic counts as drawn."""
    rows = page.locator(".chart[data-column='age'] .bar").all()
    return {r.get_attribute("data-value"): r.get_attribute("data-synthetic") for r in rows}


def test_a_late_answer_never_draws_over_a_newer_selection(server):
    found = open_explorer(server, answers_out_of_order, "explorer-out-of-order.png", probe=True)
    assert found["errors"] == []
    assert found["held"] == 1 and found["selected"] == 0 and found["chips"] == 0
    assert found["ages_unchanged"]  # the numbers of no selection, not the late answer's


def test_the_explorer_in_chromium(server, linked):
    import httpx

    found = open_explorer(server, pick_two_and_read, "explorer-explore.png")
    assert found["errors"] == [] and found["requests"] == [] and found["chips"] == 2
    selection = {"gender": ["Female"], "perp_relation_to_victim": [found["relation"]]}
    release = linked[0].name
    answer = httpx.get(f"{server}api/{release}/explore", params={"s": json.dumps(selection)}).json()
    expected = {
        b["value"]: b["synthetic"] for b in answer["columns"]["age"] if b["synthetic"] or b["aggregate"]
    }
    assert found["age"] == expected

    again = open_explorer(server, revisit(found["url"], QUALITY + PAGES), "explorer-pages.png", probe=True)
    assert again["errors"] == [] and again["chips"] == 2
    assert again["downloads"] >= 4 and again["compared"] >= 1
    assert again["a11y"] == {name: [] for name in ("explore", *QUALITY, *PAGES)}
    other = linked[1].name
    theirs = httpx.get(f"{server}api/{other}/explore", params={"s": json.dumps(selection)}).json()
    best = {name: {b["value"]: b["best"] for b in answer["columns"]["age"]} for name, answer in
            ((release, answer), (other, theirs))}  # fmt: skip
    assert again["compared_bars"] and all(
        (best[release].get(value, 0), best[other].get(value, 0)) == pair
        for value, pair in again["compared_bars"].items()
    )
    assert again["quality_tables"] == 2 and again["left_out"] >= 2
    assert again["headline"].startswith("Best estimate:")


def test_the_static_report_from_file(linked, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(linked[1]), "--out", str(out)]) == 0
    found = open_explorer(out.as_uri(), pick_two_and_read, "static-report.png")
    assert found["errors"] == [] and found["requests"] == [] and found["chips"] == 2
    from showcase.engine.explore.server import Served, explore

    selection = {"gender": ["Female"], "perp_relation_to_victim": [found["relation"]]}
    answer = explore(Served("kanon", linked[1]), selection)
    expected = {
        b["value"]: b["synthetic"] for b in answer["columns"]["age"] if b["synthetic"] or b["aggregate"]
    }
    assert found["age"] == expected and sum(expected.values()) > 0
    again = open_explorer(found["url"], revisit(found["url"], PAGES), "static-report-pages.png", probe=True)
    assert again["errors"] == [] and again["requests"] == [] and again["chips"] == 2
    assert again["downloads"] >= 4 and again["left_out"] >= 2
    assert again["headline"].startswith("Best estimate:")
    assert again["a11y"] == {name: [] for name in ("explore", *PAGES)}


def test_the_explorer_by_keyboard(server):
    """A bar is a toggle button: Enter selects, Space unselects, and the focus stays on the bar."""
    found = open_explorer(server, by_keyboard, "explorer-keyboard.png", probe=True)
    assert found["errors"] == []
    assert found["selected"] == {"focus": "Female|true", "chips": 1}
    assert found["unselected"] == "Female|false" and found["chips"] == 0


def _all_bars(page) -> dict:
    """Every chart's bars on the Explore page: (column, value) → the released count shown ("" if none)."""
    shown = {}
    for chart in page.locator(".chart").all():
        column = chart.get_attribute("data-column")
        for row in chart.locator(".bar").all():
            shown[(column, row.get_attribute("data-value"))] = row.get_attribute("data-aggregate")
    return shown


def test_a_report_of_hostile_names_and_values_draws_the_released_counts(tmp_path):
    """Names and values are data: "<!--<script>" once blanked the whole report, and ":" or ";" in them
    made two combinations one key, so bars showed another combination's count."""
    from showcase.engine.explore.server import Served, explore

    rows = 60
    columns = {
        "m": ["x:y" if i < 30 else "z" for i in range(rows)],
        "m:x": ["y" if i % 6 == 0 else "w" for i in range(rows)],
        "a": ["p;b:q" if i % 3 == 0 else "p" for i in range(rows)],
        "b": ["q" if i % 5 == 0 else "r" for i in range(rows)],
        "note <!--": ["<!--<script>" if i < 20 else "</script><b>" for i in range(rows)],
        "file": ["\u202egnp.exe" if i % 2 else "doc" for i in range(rows)],  # a right-to-left override
        "pad": ["x" if i % 2 else " x" for i in range(rows)],  # two values that look alike
    }
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), tmp_path / "hostile.parquet")
    release, out = tmp_path / "release", tmp_path / "report.html"
    assert main(["run", str(tmp_path / "hostile.parquet"), "-k", "2", "-l", "2", "-o", str(release),
                 "--seed", "1", "--no-progress"]) == 0  # fmt: skip
    assert main(["report", str(release), "--out", str(out)]) == 0

    def steps(page):
        page.click("#tabs button[data-page='explore']")
        page.wait_for_selector(".chart .bar")
        first = _all_bars(page)
        before = int(page.evaluate("document.body.dataset.settled || 0"))
        for row in page.locator(".chart[data-column='m'] .bar").all():
            if row.get_attribute("data-value") == "x:y":
                row.click()
        page.wait_for_function(f"Number(document.body.dataset.settled || 0) > {before}")
        labels = sorted(
            label.inner_text() for label in page.locator(".chart[data-column='pad'] .label").all()
        )
        shown = [label.inner_text() for label in page.locator(".chart[data-column='file'] .label").all()]
        chip = page.locator(".chip").first.inner_text()
        return {"first": first, "selected": _all_bars(page), "chip": chip, "labels": labels, "file": shown}

    found = open_explorer(out.as_uri(), steps, "hostile-report.png", probe=True)
    assert found["errors"] == [] and found["requests"] == []
    served = Served("release", release)
    for selection, shown in (({}, found["first"]), ({"m": ["x:y"]}, found["selected"])):
        answer = explore(served, selection)
        expected = {
            (name, b["value"]): "" if b["aggregate"] is None else str(b["aggregate"])
            for name, bars in answer["columns"].items()
            for b in bars
            if b["synthetic"] or b["aggregate"]
        }
        assert {key: shown.get(key) for key in expected} == expected, selection
    assert found["first"][("m", "x:y")] == "30" and found["first"][("a", "p;b:q")] == "20"
    assert found["chip"] == "\u2068m\u2069: \u2068x:y\u2069"  # each name and value its own bidi run
    assert found["labels"] == ["x", "\u2420x"]  # an edge space is shown, so the two bars differ
    assert "\\u202egnp.exe" in found["file"]  # an invisible control character is shown, not obeyed
