"""The explorer: selection queries over a release (:mod:`.index`); the web app is :mod:`.server`.

Names are imported on first use, so importing the package (or its server
module) loads no NumPy or Numba until an index is built.
"""

from __future__ import annotations

__all__ = ["AggregatesIndex", "ExploreColumn", "RecordsIndex", "noise_interval", "open_release"]


def __getattr__(name: str):
    if name in __all__:
        from . import index

        return getattr(index, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
