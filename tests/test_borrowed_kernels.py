"""Kernels compiled without reference counting (``config.BORROW_JIT``) stay safe to call.

Such a kernel borrows its arrays from the caller. Numba refuses to compile one that
allocates, or that returns an array it did not receive; but it lets one return an
argument as it came, and that reference, counted by nobody, would be released by the
caller once too often and free memory still in use. So every borrowed kernel, as
compiled, must return scalars or tuples of scalars only.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba import njit, types

import showcase.engine.kernels as kernels
from showcase.engine.config import BORROW_JIT, JIT, borrow_flags

ROOT = Path(__file__).resolve().parent.parent


def borrowed_dispatchers() -> dict[str, object]:
    """Every kernel of ``showcase.engine.kernels`` compiled with reference counting off."""
    found = {}
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, value in vars(module).items():
            options = getattr(value, "targetoptions", None)
            if options is not None and options.get("_nrt") is False and value.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = value
    return found


def holds_array(typ) -> bool:
    """Whether a Numba type is, or holds, an array."""
    if isinstance(typ, types.Array):
        return True
    if isinstance(typ, types.BaseTuple):
        return any(holds_array(t) for t in typ.types)
    return False


def array_returns(dispatcher) -> list[str]:
    """The compiled signatures of ``dispatcher`` that return an array."""
    return [str(sig) for sig in dispatcher.nopython_signatures if holds_array(sig.return_type)]


CHECK = """
import json, sys
from showcase.datasets import generate_table
from showcase.engine import DifferentialPrivacy, KAnonymity, aggregate, run, synthesize
from showcase.engine.synthesize import aggregate_fit
from tests.test_borrowed_kernels import array_returns, borrowed_dispatchers
out = sys.argv[1]  # an existing folder
table = generate_table(3000, 8, seed=3)
# Every job whose kernels borrow: k-anonymous synthesis in each mode (the fit included),
# a DP run (selection, noise, fit) and an SDS-style DP release.
run(table, protection=KAnonymity(5), length=3, out=out + "/row", seed=1)
for mode in ("unseeded", "value_seeded", "aggregate_seeded"):
    synthesize(table, protection=KAnonymity(5), mode=mode, length=3, out=out + "/" + mode, seed=1)
aggregate_fit.CELL_LIMIT = 0  # the fit's other search, over the combination table
synthesize(table, protection=KAnonymity(5), mode="aggregate_seeded", length=3, out=out + "/table", seed=1)
run(table, protection=DifferentialPrivacy(4.0), out=out + "/dp", seed=1)
aggregate(table, protection=DifferentialPrivacy(1.0), length=2, out=out + "/sds", seed=1)
found = borrowed_dispatchers()
print(json.dumps({
    "compiled": sorted(name for name, d in found.items() if d.nopython_signatures),
    "offending": {name: array_returns(d) for name, d in found.items() if array_returns(d)},
}))
"""

#: Borrowed kernels of each family of jobs, so that the check cannot pass by compiling none.
EXPECTED = (
    "support.has_support",
    "support.accept",
    "row_synthesis._add",
    "aggregate_synthesis._walk_children",
    "cell_fit.best_value",
    "aggregate_fit.move_gain",
    "marginal_fit.move_gain",
    "noise.discrete_gaussian",
)


def test_borrowed_kernels_return_no_array(tmp_path):
    # An empty kernel cache, so that every kernel is compiled here and its types are known
    # (kernels loaded from the cache are never typed again).
    # (A home of its own keeps the DP runs out of the user's privacy ledger.)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    (tmp_path / "out").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path / "out")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    for name in EXPECTED:
        assert name in seen["compiled"], f"{name} should be a borrowed kernel, compiled by this run"
    assert seen["offending"] == {}


def test_the_check_sees_an_array_returned():
    @njit(**BORROW_JIT)
    def same(values):
        return values  # the one array Numba lets such a kernel return

    same(np.arange(4))
    assert array_returns(same) != []
    assert holds_array(types.Tuple((types.int64, types.Array(types.int64, 1, "C"))))


def test_reference_counting_is_turned_off_only_where_numba_has_the_switch():
    class WithSwitch:
        _nrt = None

    class WithoutSwitch:
        pass

    assert borrow_flags(WithSwitch) == {**JIT, "_nrt": False}
    # A Numba without the private switch gets the plain flags, which it accepts.
    fallback = borrow_flags(WithoutSwitch)
    assert fallback == JIT and "_nrt" not in fallback

    def total(values):
        s = 0
        for v in values:
            s += v
        return s

    # The installed Numba compiles kernels with the flags it was given ("Unrecognized
    # options" would be raised here, at the first call).
    for flags in (BORROW_JIT, fallback):
        assert njit(**{**flags, "cache": False})(total)(np.arange(5)) == 10
