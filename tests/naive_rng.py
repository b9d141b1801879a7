"""The kernels' random streams (engine/kernels/rng.py) in plain Python integers, for references."""

from __future__ import annotations

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z: int) -> int:
    """splitmix64's finalizer."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def substream_seed(seed: int, i: int) -> int:
    return (int(seed) ^ (i * GOLDEN)) & MASK


class Xoshiro:
    """xoshiro256**, its four words filled from one seed by splitmix64."""

    def __init__(self, seed: int):
        x = int(seed) & MASK
        self.s = []
        for _ in range(4):
            x = (x + GOLDEN) & MASK
            self.s.append(mix64(x))

    @staticmethod
    def _rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & MASK

    def next_u64(self) -> int:
        s0, s1, s2, s3 = self.s
        result = (self._rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = self._rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, n: int) -> int:
        """Uniform in [0, n) by rejection of the lowest (2**64 mod n) values."""
        threshold = (1 << 64) % n
        while True:
            x = self.next_u64()
            if x >= threshold:
                return x % n

    def uniform(self) -> float:
        return float(self.next_u64() >> 11) * (1.0 / 9007199254740992.0)

    def shuffle(self, values: list) -> None:
        for i in range(len(values) - 1, 0, -1):
            j = self.below(i + 1)
            values[i], values[j] = values[j], values[i]
