from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Thread-independence tests compare 1 thread with 2: give Numba at least 2 even on a
# 1-core machine (read once, when numba is first imported, which happens below).
if int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1) < 2:
    os.environ["NUMBA_NUM_THREADS"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "showcase",
    deadline=None,  # the first call of a kernel compiles it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    max_examples=int(os.environ.get("SHOWCASE_HYPOTHESIS_EXAMPLES", "60")),
)
settings.load_profile("showcase")


def pytest_configure(config):
    # The key that makes published input fingerprints (engine/fingerprint_key.py): one per test
    # session, never the user's own ~/.showcase/fingerprint.key.
    if "SHOWCASE_KEY" not in os.environ:
        os.environ["SHOWCASE_KEY"] = str(Path(tempfile.mkdtemp(prefix="showcase-key-")) / "fingerprint.key")
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        # Hashes and random generators in the kernels rely on uint64 wraparound,
        # silent when compiled; run as plain Python (for debugging or coverage),
        # NumPy warns on every wrap, which this suite would otherwise turn into errors.
        config.addinivalue_line("filterwarnings", "ignore:overflow encountered in scalar:RuntimeWarning")


SHARED = Path(__file__).resolve().parents[1].parent / "shared"
NIST = SHARED / "data" / "nist-acs-excerpts"


@pytest.fixture
def nist_national() -> Path:
    path = NIST / "national2019.csv"
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (it lives in ../shared)")
    return path


def as_dict(aggregates) -> dict:
    """Aggregates → {((column, value), ...): count}, for comparing with the reference."""
    schema = aggregates.schema
    values = schema.attribute_values().to_pylist()
    cols = schema.attribute_columns
    out = {}
    for row, n, c in zip(aggregates.attrs, aggregates.length, aggregates.count):
        key = tuple((schema.columns[cols[a]], values[a]) for a in row[: int(n)])
        out[key] = int(c)
    return out


def write_csv(path: Path, columns, rows, delimiter=",") -> Path:
    lines = [delimiter.join(columns)] + [delimiter.join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def worked_example(tmp_path) -> Path:
    rows = [
        ("a1", "b1", "c1"),
        ("a1", "b2", "c1"),
        ("a2", "", "c2"),
        ("a2", "b2", "c1"),
        ("a1", "b2", ""),
    ]
    return write_csv(tmp_path / "example.csv", ["A", "B", "C"], rows)


@pytest.fixture(params=[KeyboardInterrupt, OSError], ids=lambda failure: failure.__name__)
def break_writer(request, monkeypatch):
    """``break_writer(module, "name")``: that writer then fails as a lost disk would, once per parameter."""

    def breaks(module, name: str) -> None:
        def broken(*args, **kwargs):
            raise request.param("disk gone")

        monkeypatch.setattr(module, name, broken)

    return breaks


def sorted_rows(array: np.ndarray) -> list:
    return sorted(map(tuple, array.tolist()))
