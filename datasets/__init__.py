"""Generators of realistic fake microdata, for examples, tests and benchmarks."""

from .table import generate_table, write_table

__all__ = ["generate_table", "write_table"]
