"""Generators of realistic fake microdata, for examples, tests and benchmarks."""

from .table import check_size, generate_table, write_table

__all__ = ["check_size", "generate_table", "write_table"]
