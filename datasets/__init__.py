"""Generators of realistic fake microdata, for examples, tests and benchmarks."""

from .cases import case_file_names, check_victims, generate_cases, write_cases
from .table import check_size, generate_table, write_table

__all__ = [
    "case_file_names",
    "check_size",
    "check_victims",
    "generate_cases",
    "generate_table",
    "write_cases",
    "write_table",
]
