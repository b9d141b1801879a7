"""The explorer's API: counts against a pandas reference, bad selections, and what is never served."""

from __future__ import annotations

import json
import os
import random
import shutil
from urllib.parse import quote

import pandas as pd
import pytest

from showcase.cli.main import main

starlette = pytest.importorskip("starlette.testclient")


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """A DP linked release and a k-anonymous one of the same generated cases, a sensitive file beside them."""
    folder = tmp_path_factory.mktemp("explorer")
    os.environ["SHOWCASE_LEDGER"] = str(folder / "ledger.sqlite")
    assert (
        main(
            ["datasets", "generate", "cases", "--rows", "3000", "--seed", "5", "--out", str(folder / "cases")]
        )
        == 0
    )
    victims, book = folder / "cases" / "victims.csv", folder / "cases" / "codebook.yaml"
    dp, kanon = folder / "dp", folder / "kanon"
    assert main(["run", str(victims), "--codebook", str(book), "--dp", "--epsilon", "6", "-o", str(dp),
                 "--seed", "1", "--no-progress"]) == 0  # fmt: skip
    assert main(["run", str(victims), "--codebook", str(book), "-k", "5", "-l", "2", "-o", str(kanon),
                 "--seed", "1", "--no-progress"]) == 0  # fmt: skip
    shutil.copy(victims, dp / "victims.csv")  # a careless user put the sensitive input beside the release
    return dp, kanon


@pytest.fixture(scope="module")
def client(releases):
    from showcase.engine import explorer_app

    return starlette.TestClient(explorer_app(list(releases)), base_url="http://127.0.0.1")


def synthetic_frame(release) -> tuple[pd.DataFrame, set[str]]:
    """The synthetic records, and the names of the multi-value columns (from the metadata)."""
    frame = pd.read_csv(release / "synthetic.csv", dtype=str, keep_default_na=False)
    meta = json.loads((release / "metadata.json").read_text())
    return frame, {name for name, _ in meta["aggregates"].get("multi_value", [])}


def holds(frame: pd.DataFrame, column: str, values: list[str], multi: set[str]) -> pd.Series:
    if column in multi:
        cells = frame[column].str.split(";")
        return cells.apply(lambda parts: bool(set(parts) & set(values)))
    return frame[column].isin(values)


def reference(frame, multi, selection, column, value) -> int:
    mask = pd.Series(True, index=frame.index)
    for other, values in selection.items():
        if other != column:
            mask &= holds(frame, other, values, multi)
    return int((mask & holds(frame, column, [value], multi)).sum())


def aggregate_reference(release, labels: list[str]) -> int | None:
    counts = {}
    for line in (release / "aggregates.tsv").read_text().splitlines()[2:]:
        combo, count = line.rsplit("\t", 1)
        counts[frozenset(combo.split(";"))] = int(count)
    return counts.get(frozenset(labels))


def test_counts_equal_a_pandas_reference_for_random_selections(client, releases):
    rng = random.Random(3)
    for release in releases:
        frame, multi = synthetic_frame(release)
        overview = client.get(f"/api/{release.name}/overview").json()
        columns = {c["name"]: c["values"] for c in overview["columns"]}
        assert set(columns) == set(frame.columns) and overview["synthetic_records"] == len(frame)
        for _ in range(6):
            picked = rng.sample(sorted(columns), rng.randint(0, 3))
            selection = {c: rng.sample(columns[c], min(len(columns[c]), rng.randint(1, 2))) for c in picked}
            answer = client.get(f"/api/{release.name}/explore", params={"s": json.dumps(selection)}).json()
            for column, bars in answer["columns"].items():
                for bar in bars[:6]:
                    assert bar["synthetic"] == reference(frame, multi, selection, column, bar["value"]), (
                        column,
                        bar,
                    )
                    others = [f"{c}:{v[0]}" for c, v in selection.items() if c != column]
                    single = all(len(v) == 1 for c, v in selection.items() if c != column)
                    want = (
                        aggregate_reference(release, [f"{column}:{bar['value']}", *others])
                        if single
                        else None
                    )
                    assert bar["aggregate"] == want, (column, bar, selection)
                    assert bar["best"] == (want if want is not None else bar["synthetic"])


def test_dp_bars_carry_their_noise_interval_and_k_anonymous_ones_their_rounding(client, releases):
    dp, kanon = releases
    meta = json.loads((dp / "metadata.json").read_text())["privacy"]
    answer = client.get(f"/api/{dp.name}/explore").json()
    bar = next(b for b in answer["columns"]["gender"] if b["aggregate"] is not None)
    half = 1.96 * meta["sigmas"][0] * meta["sensitivity_bounds"][0] ** 0.5
    assert bar["low"] == pytest.approx(bar["aggregate"] - half) and bar["high"] == pytest.approx(
        bar["aggregate"] + half
    )
    bar = next(
        b for b in client.get(f"/api/{kanon.name}/explore").json()["columns"]["gender"] if b["aggregate"]
    )
    assert (bar["low"], bar["high"]) == (bar["aggregate"], bar["aggregate"] + 4)  # k = 5: rounded down


@pytest.mark.parametrize("selection, message", [
    ("not json", "not JSON"),
    ('["gender"]', "maps column names"),
    ('{"gender": "Female"}', "maps column names"),
    ('{"nope": ["x"]}', "nope"),
    ('{"nope": []}', "nope"),  # an unknown column is named even when it selects nothing
    ('{"gender": ["no such value"]}', "no such value"),
    ("[" * 1000, "not JSON"),  # nested deeper than the parser recurses
    ('{"gender": [' + "1" * 5000 + "]}", "not JSON"),  # a number longer than Python converts
    ('{"gender": ["' + "x" * 50_001 + '"]}', "longer than"),
])  # fmt: skip
def test_malformed_selections_get_a_400_with_a_message(client, releases, selection, message):
    response = client.get(f"/api/{releases[0].name}/explore", params={"s": selection})
    assert response.status_code == 400 and message in response.json()["error"]


def test_only_the_release_files_are_ever_served(client, releases, tmp_path):
    dp = releases[0]
    assert client.get(f"/download/{dp.name}/synthetic.csv").status_code == 200
    for path in [
        f"/download/{dp.name}/victims.csv",  # the sensitive input beside the release
        f"/download/{dp.name}/..%2Fcases%2Fvictims.csv",
        f"/download/{dp.name}/%2e%2e%2fcases%2fvictims.csv",
        f"/download/{dp.name}/" + quote("../cases/victims.csv", safe=""),
        "/download/../cases/victims.csv",
        "/assets/..%2Fserver.py",
        "/assets/server.py",
        "/api/nope/overview",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"victim_id" not in response.content
    files = client.get(f"/api/{dp.name}/files").json()["files"]
    assert "victims.csv" not in {f["name"] for f in files} and {"synthetic.csv", "metadata.json"} <= {
        f["name"] for f in files
    }


def test_a_release_file_that_is_a_link_is_not_served(releases, tmp_path):
    from showcase.engine import explorer_app

    linked = tmp_path / "linked"
    shutil.copytree(releases[1], linked)
    (linked / "aggregates.tsv").unlink()
    (linked / "aggregates.tsv").symlink_to(releases[0] / "victims.csv")
    client = starlette.TestClient(explorer_app([linked]), base_url="http://127.0.0.1")
    assert client.get("/download/linked/aggregates.tsv").status_code == 404
    served = client.get("/download/linked/synthetic.csv")
    assert served.status_code == 200 and served.content == (linked / "synthetic.csv").read_bytes()
    assert served.headers["content-disposition"] == 'attachment; filename="synthetic.csv"'


def test_a_link_swapped_in_after_the_check_is_not_followed(releases, tmp_path, monkeypatch):
    """The download opens the name itself without following links: the check before it is not trusted."""
    from showcase.engine.explore import server

    linked = tmp_path / "linked"
    shutil.copytree(releases[1], linked)
    monkeypatch.setattr(server, "safe_file", lambda folder, name: folder / name)  # as if swapped after it
    (linked / "aggregates.tsv").unlink()
    (linked / "aggregates.tsv").symlink_to(releases[0] / "victims.csv")
    (linked / "synthetic.parquet").unlink()
    (linked / "synthetic.parquet").mkdir()
    client = starlette.TestClient(server.create_app([linked]), base_url="http://127.0.0.1")
    for name in ("aggregates.tsv", "synthetic.parquet", "victims.csv"):
        response = client.get(f"/download/linked/{name}")
        assert response.status_code == 404 and b"victim_id" not in response.content, name


def test_a_long_selection_is_bounded_by_its_released_parts(client, releases):
    """Longer than L: every released sub-combination of length L is listed, with its interval."""
    for release in releases:
        frame, multi = synthetic_frame(release)
        meta = json.loads((release / "metadata.json").read_text())
        length = meta["aggregates"]["reporting_length"]
        picked = ["gender", "age", "recruiter_relation"][: length + 1]
        selection = {c: [frame[c][frame[c] != ""].str.split(";").str[0].mode()[0]] for c in picked}
        answer = client.get(f"/api/{release.name}/explore?s={quote(json.dumps(selection))}").json()
        pairs = sorted((c, v[0]) for c, v in selection.items())
        expected = []
        from itertools import combinations

        for subset in combinations(pairs, length):
            count = aggregate_reference(release, [f"{c}:{v}" for c, v in subset])
            if count is not None or answer["interval"] == "k":
                expected.append((tuple(map(tuple, subset)), count))
        got = [(tuple(map(tuple, p["attributes"])), p["count"]) for p in answer["parts"]]
        assert sorted(got, key=str) == sorted(expected, key=str) and got
        highs = [p["high"] for p in answer["parts"]]
        assert highs == sorted(highs)
        if answer["interval"] == "k":  # an unreported part: fewer than k records hold it
            k = meta["aggregates"]["resolution"]
            assert all(p["high"] == k - 1 for p in answer["parts"] if p["count"] is None)
        short = {c: selection[c] for c in picked[:length]}
        assert client.get(f"/api/{release.name}/explore?s={quote(json.dumps(short))}").json()["parts"] == []


def test_the_overview_says_what_was_left_out(client, releases):
    dp, kanon = releases
    said = client.get(f"/api/{dp.name}/overview").json()["left_out"]
    meta = json.loads((dp / "metadata.json").read_text())["privacy"]
    assert f"{meta['released_by_length'][1]:,} of {meta['candidates_by_length'][1]:,}" in said[1]
    assert any("at most 5 linked" in line for line in said)
    said = client.get(f"/api/{kanon.name}/overview").json()["left_out"]
    rare = json.loads((kanon / "metadata.json").read_text())["statistics"]["rare_combinations_by_length"]
    assert f"{rare[1]:,} held by fewer than 5 records" in said[1]


def test_an_evaluation_is_shown_only_when_given_and_names_its_release(releases, tmp_path):
    from showcase.engine import explorer_app
    from showcase.engine.errors import InputError

    dp, kanon = releases
    plain = starlette.TestClient(explorer_app([dp, kanon]), base_url="http://127.0.0.1")
    assert plain.get("/api/quality").status_code == 404
    assert plain.get("/api/releases").json()["quality"] is False
    victims = dp / "victims.csv"
    book = dp.parent / "cases" / "codebook.yaml"
    out = tmp_path / "eval"
    assert (
        main(["evaluate", str(victims), str(kanon), "--codebook", str(book), "-l", "2", "-o", str(out)]) == 0
    )
    owner = starlette.TestClient(
        explorer_app([dp, kanon], evaluation=out / "evaluation.json"), base_url="http://127.0.0.1"
    )
    quality = owner.get("/api/quality").json()
    assert quality["of_release"] == kanon.name and quality["kind"] == "evaluation"
    (tmp_path / "not.json").write_text('{"kind": "release"}')
    with pytest.raises(InputError, match="not an evaluation"):
        explorer_app([dp], evaluation=tmp_path / "not.json")


def test_preloading_answers_every_selection_shape_before_the_first_click(releases, tmp_path):
    """``showcase serve`` opens each release and runs each selection kernel once before its URL is
    printed, so no one's first click waits for a kernel to load (or compile, after an install)."""
    from showcase.engine.explore import server
    from showcase.engine.kernels import selection

    seen = []
    real = server.explore
    calls = lambda served, chosen: seen.append((served.id, chosen)) or real(served, chosen)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server, "explore", calls)
        server.create_app(list(releases), preload=True)
    for release in (r.name for r in releases):
        shapes = [chosen for name, chosen in seen if name == release]
        assert {} in shapes
        assert any(len(chosen) > 2 for chosen in shapes)  # longer than L = 2: the released parts
        assert any(any(len(v) == 2 for v in chosen.values()) for chosen in shapes)  # OR within a column
    from showcase.engine.kernels import keys

    used = (selection.column_masks, selection.leave_one_out, selection.masked_counts, selection.count_bits)
    for kernel in (*used, keys.find_rows):
        assert kernel.signatures, kernel
    empty = tmp_path / "aggregates-only"
    empty.mkdir()
    shutil.copy(releases[1] / "aggregates.parquet", empty / "aggregates.parquet")
    server.create_app([empty], preload=True)  # no records: nothing to warm, and no error


@pytest.mark.parametrize(
    "host", ["rebind.attacker.example", "rebind.attacker.example:8000", "127.0.0.1.nip.io"]
)
def test_a_page_that_rebinds_its_name_to_the_explorer_reads_nothing(releases, host):
    """DNS rebinding: a web page points its own name at 127.0.0.1; the Host header still names it."""
    from showcase.engine import explorer_app

    app = explorer_app(list(releases))
    for base in (f"http://{host}", "http://127.0.0.1", "http://localhost:8000", "http://[::1]:8000"):
        response = starlette.TestClient(app, base_url=base).get("/api/releases")
        if base.startswith(f"http://{host}"):
            assert response.status_code == 400 and "releases" not in response.text
        else:
            assert response.status_code == 200 and response.json()["releases"]


def test_answers_keep_other_pages_and_the_network_out(client, releases):
    for path in ("/", "/api/releases", f"/api/{releases[0].name}/overview", "/api/nope/overview"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"


def test_a_document_holding_nan_is_answered_with_null(releases, tmp_path):
    from showcase.engine import explorer_app

    evaluation = tmp_path / "evaluation.json"
    evaluation.write_text(
        '{"kind": "evaluation", "scores": {"mae": NaN, "k_marginal": 812.5}}'
    )  # lenient JSON
    owner = starlette.TestClient(
        explorer_app(list(releases), evaluation=evaluation), base_url="http://127.0.0.1"
    )
    response = owner.get("/api/quality")
    assert response.status_code == 200 and response.json()["scores"] == {"mae": None, "k_marginal": 812.5}


def test_only_loopback_addresses_count_as_this_machine():
    from showcase.engine.explore.guard import allowed_hosts, host_name, is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("127.evil.example", "0.0.0.0", "192.168.1.5", "example.org"))
    assert host_name("[::1]:8000") == "[::1]" and host_name("LocalHost:80") == "localhost"
    assert allowed_hosts("0.0.0.0") is None and "[::1]" in allowed_hosts("::1")
