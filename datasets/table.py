"""A deterministic generator of realistic categorical case records.

Rows are drawn from a latent-class model: each record belongs to one of a few
hidden groups with Zipf-like sizes, and each column's value is drawn from a
group-specific distribution that is concentrated on a few values over a
Zipf-like base. Columns are therefore dependent (through the group), common
combinations are very common, and the tail holds many rare combinations, as
in real case registries. Some columns are 0/1 indicators (exercising the zero
rule) and some have missing values. The same seed gives the same table on
every machine (NumPy's PCG64).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from showcase.engine.errors import ParameterError

_COUNTRIES = [
    "Albania", "Bangladesh", "Brazil", "Bulgaria", "Cambodia", "China", "Colombia", "Egypt",
    "Eritrea", "Ethiopia", "Ghana", "Guatemala", "Honduras", "India", "Indonesia", "Kenya",
    "Laos", "Mexico", "Moldova", "Myanmar", "Nepal", "Nigeria", "Pakistan", "Philippines",
    "Romania", "Sudan", "Thailand", "Uganda", "Ukraine", "Vietnam",
]  # fmt: skip

#: (column name, values, missing rate)
TEMPLATES: list[tuple[str, list[str], float]] = [
    ("sex", ["female", "male", "other"], 0.0),
    ("age_band", ["0-11", "12-17", "18-25", "26-35", "36-45", "46-60", "60+"], 0.02),
    ("citizenship", _COUNTRIES, 0.05),
    (
        "exploitation_type",
        [
            "sexual",
            "labour",
            "domestic servitude",
            "forced marriage",
            "forced criminality",
            "begging",
            "organ removal",
            "other",
        ],
        0.0,
    ),  # fmt: skip
    (
        "industry",
        [
            "agriculture",
            "construction",
            "manufacturing",
            "hospitality",
            "fishing",
            "domestic work",
            "sex industry",
            "mining",
            "retail",
            "transport",
            "other",
        ],
        0.25,
    ),  # fmt: skip
    (
        "recruiter_relation",
        [
            "family",
            "friend",
            "intimate partner",
            "employer",
            "agency",
            "stranger",
            "other",
        ],
        0.15,
    ),  # fmt: skip
    ("used_threats", ["0", "1"], 0.0),
    ("withheld_documents", ["0", "1"], 0.0),
    ("year_registered", [str(y) for y in range(2005, 2026)], 0.0),
    ("duration", ["<1 month", "1-6 months", "6-12 months", "1-2 years", "2+ years"], 0.1),
    ("education", ["none", "primary", "secondary", "tertiary"], 0.2),
    ("marital_status", ["single", "married", "partnered", "divorced", "widowed"], 0.1),
    (
        "referral_source",
        [
            "police",
            "ngo",
            "self",
            "hotline",
            "health service",
            "labour inspector",
            "other",
        ],
        0.05,
    ),  # fmt: skip
    ("debt_bondage", ["0", "1"], 0.0),
    ("border_crossing", ["domestic", "regional", "international"], 0.0),
    ("transport_mode", ["air", "bus", "car", "boat", "train", "on foot"], 0.3),
    (
        "occupation_before",
        [
            "student",
            "farmer",
            "factory worker",
            "domestic worker",
            "unemployed",
            "vendor",
            "construction worker",
            "fisher",
            "waiter",
            "driver",
            "cleaner",
            "seamstress",
            "teacher",
            "nurse",
            "other",
        ],
        0.2,
    ),  # fmt: skip
    ("district", [f"D{i:02d}" for i in range(1, 61)], 0.05),
    ("physical_violence", ["0", "1"], 0.0),
    ("assistance_received", ["0", "1"], 0.0),
]

N_CLASSES = 12


def column_specs(columns: int) -> list[tuple[str, list[str], float]]:
    """The first ``columns`` column templates, cycling with a numeric suffix."""
    specs = []
    for i in range(columns):
        name, values, missing = TEMPLATES[i % len(TEMPLATES)]
        round_ = i // len(TEMPLATES)
        specs.append((name if round_ == 0 else f"{name}_{round_ + 1}", values, missing))
    return specs


#: Largest tables generated: 100 million rows (about 2 GB of codes at 10 columns), 1,000 columns.
MAX_ROWS, MAX_COLUMNS = 10**8, 1000


def check_size(rows: int, columns: int) -> None:
    """Refuse, in one line, a table size the generator does not make."""
    if not 1 <= rows <= MAX_ROWS:
        raise ParameterError(f"rows must be from 1 to {MAX_ROWS:,}, got {rows}")
    if not 1 <= columns <= MAX_COLUMNS:
        raise ParameterError(f"columns must be from 1 to {MAX_COLUMNS:,}, got {columns}")


def generate_codes(rows: int, columns: int, seed: int) -> tuple[list[tuple], np.ndarray]:
    """Column specs and a ``(columns, rows)`` array of value indices (-1 = missing)."""
    check_size(rows, columns)
    rng = np.random.default_rng(seed)
    specs = column_specs(columns)
    class_weights = 1.0 / np.arange(1, N_CLASSES + 1) ** 1.1
    classes = rng.choice(N_CLASSES, size=rows, p=class_weights / class_weights.sum())
    order = np.argsort(classes, kind="stable")
    bounds = np.searchsorted(classes[order], np.arange(N_CLASSES + 1))
    codes = np.empty((columns, rows), dtype=np.int16)
    for c, (_, values, missing) in enumerate(specs):
        n_values = len(values)
        base = 1.0 / np.arange(1, n_values + 1) ** 1.3
        base = base[rng.permutation(n_values)]
        column = np.empty(rows, dtype=np.int16)
        for g in range(N_CLASSES):
            members = order[bounds[g] : bounds[g + 1]]
            # Each group favours a few values: a Dirichlet draw sharpened around the base.
            p = rng.dirichlet(base * 2.0 + 0.05)
            cdf = np.cumsum(p)
            cdf[-1] = 1.0
            column[members] = np.searchsorted(cdf, rng.random(members.size), side="right")
        if missing:
            column[rng.random(rows) < missing] = -1
        codes[c] = column
    return specs, codes


def generate_table(rows: int, columns: int = 20, seed: int = 0) -> pa.Table:
    """A table of ``rows`` fake case records with ``columns`` categorical columns."""
    specs, codes = generate_codes(rows, columns, seed)
    arrays = [
        pa.DictionaryArray.from_arrays(
            pa.array(codes[c], pa.int16(), mask=codes[c] < 0), pa.array(values, pa.string())
        )
        for c, (_, values, _) in enumerate(specs)
    ]
    return pa.Table.from_arrays(arrays, names=[name for name, _, _ in specs])


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write a generated table as CSV (missing = empty field) or Parquet, by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        pq.write_table(table, path, compression="zstd")
        return
    if suffix not in {".csv", ".tsv"}:
        raise ParameterError(f"{path.name}: write .csv, .tsv or .parquet")
    delimiter = "\t" if suffix == ".tsv" else ","
    plain = pa.schema([pa.field(name, pa.string()) for name in table.column_names])
    options = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
    with pacsv.CSVWriter(path, plain, write_options=options) as writer:
        for start in range(0, table.num_rows, 1 << 20):
            writer.write_table(table.slice(start, 1 << 20).cast(plain))
