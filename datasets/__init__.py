"""Generators of realistic fake microdata, for examples, tests and benchmarks."""

from .cases import (
    CODEBOOK_NAME,
    case_file_names,
    cases_codebook,
    check_victims,
    generate_cases,
    write_cases,
    write_codebook,
)
from .table import check_size, generate_table, write_table

__all__ = [
    "CODEBOOK_NAME",
    "case_file_names",
    "cases_codebook",
    "write_codebook",
    "check_size",
    "check_victims",
    "generate_cases",
    "generate_table",
    "write_cases",
    "write_table",
]
