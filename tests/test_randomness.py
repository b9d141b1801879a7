"""The sampling randomness of synthesis: OS entropy by default, a seed only when asked."""

from __future__ import annotations

import numpy as np
import pytest

from showcase.engine import ParameterError
from showcase.engine.randomness import describe_seed, make_rng


def test_without_a_seed_every_generator_is_fresh():
    draws = [make_rng(None).integers(0, 2**63, size=4).tolist() for _ in range(3)]
    # 3 x 4 draws of 63 bits: equal rows (or a row equal to seed 0's) have probability ~2**-250.
    assert len({tuple(d) for d in draws}) == 3
    assert make_rng(0).integers(0, 2**63, size=4).tolist() not in draws


def test_a_seed_repeats_and_bad_seeds_are_refused():
    assert np.array_equal(make_rng(7).integers(0, 100, 50), make_rng(7).integers(0, 100, 50))
    assert make_rng(np.uint32(7)).integers(0, 2**63) == make_rng(7).integers(0, 2**63)
    for bad in (-1, True, 1.5, "3"):
        with pytest.raises(ParameterError, match="seed"):
            make_rng(bad)


@pytest.mark.parametrize("seed", [0, 1, 2**64])
def test_any_seed_is_described_as_seeded_and_never_written(seed):
    described = describe_seed(seed)
    assert described["seeded"] is True and "not for publication" in described["warning"]
    assert str(seed) not in str(described.values())


def test_no_seed_is_described_as_the_os_csprng():
    assert describe_seed(None) == {"seeded": False, "source": "operating system CSPRNG"}
