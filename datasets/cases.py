"""Fake human-trafficking case records shaped like CTDC's victim data and IOM's victim–perpetrator data.

Two tables are generated: one row per victim (``victims``) and zero or more
rows per victim (``perpetrators``, keyed by ``victim_id``). Every victim
belongs to one of a few hidden case profiles (:data:`PROFILES`, e.g. men in
forced labour on farms and building sites held by debt bondage, or young
women sexually exploited after recruitment by an intimate partner); each
column is drawn from a profile-specific distribution, so columns are strongly
dependent, and a per-victim latent severity makes the means of control
co-occur, which leaves many rare long combinations in the tail.

Multi-value columns (``means_of_control``, ``type_of_exploitation``,
``labour_sector``, ``sex_sector``, ``recruiter_relation``) list the set flags
joined by ``;`` in a fixed order; they are empty (null) when no flag is set
or the block is missing, and always agree with their flag columns. Flags are
the strings ``"1"``/``"0"`` or null, as CTDC publishes them; ``age``,
``months_trafficked`` and ``year_of_registration`` are integers.

Victims are drawn in chunks of :data:`CHUNK_ROWS`, each from its own PCG64
stream spawned from the seed, so memory stays bounded and the same seed gives
the same tables on every machine. Everything is vectorised NumPy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from showcase.engine.errors import ParameterError

# ---------------------------------------------------------------------------------------------------
# Configuration: marginal weights and rates. Shares are relative weights unless named *_RATE.
# ---------------------------------------------------------------------------------------------------

#: Victims generated: from 1,000 to 10 million.
MIN_VICTIMS, MAX_VICTIMS = 1_000, 10_000_000

#: Victims drawn per chunk (each chunk has its own random stream).
CHUNK_ROWS = 1 << 19

#: Citizenship codes (ISO 3166 alpha-3) with their UN sub-region, most frequent first.
COUNTRIES: list[tuple[str, str]] = [
    ("PHL", "South-eastern Asia"), ("UKR", "Eastern Europe"), ("MDA", "Eastern Europe"),
    ("USA", "Northern America"), ("IDN", "South-eastern Asia"), ("BLR", "Eastern Europe"),
    ("KHM", "South-eastern Asia"), ("MMR", "South-eastern Asia"), ("ROU", "Eastern Europe"),
    ("VNM", "South-eastern Asia"), ("NPL", "Southern Asia"), ("THA", "South-eastern Asia"),
    ("BGR", "Eastern Europe"), ("NGA", "Western Africa"), ("KGZ", "Central Asia"),
    ("UZB", "Central Asia"), ("HTI", "Latin America and the Caribbean"), ("LAO", "South-eastern Asia"),
    ("BGD", "Southern Asia"), ("IND", "Southern Asia"), ("CHN", "Eastern Asia"),
    ("MEX", "Latin America and the Caribbean"), ("ALB", "Southern Europe"), ("ETH", "Eastern Africa"),
    ("GHA", "Western Africa"), ("KEN", "Eastern Africa"), ("UGA", "Eastern Africa"),
    ("SLV", "Latin America and the Caribbean"), ("HND", "Latin America and the Caribbean"),
    ("GTM", "Latin America and the Caribbean"), ("COL", "Latin America and the Caribbean"),
    ("BRA", "Latin America and the Caribbean"), ("PAK", "Southern Asia"), ("LKA", "Southern Asia"),
    ("AFG", "Southern Asia"), ("ERI", "Eastern Africa"), ("SDN", "Northern Africa"),
    ("EGY", "Northern Africa"), ("MAR", "Northern Africa"), ("SEN", "Western Africa"),
    ("CIV", "Western Africa"), ("MLI", "Western Africa"), ("BFA", "Western Africa"),
    ("NER", "Western Africa"), ("CMR", "Middle Africa"), ("COD", "Middle Africa"),
    ("TZA", "Eastern Africa"), ("MDG", "Eastern Africa"), ("ZWE", "Eastern Africa"),
    ("ZAF", "Southern Africa"), ("RUS", "Eastern Europe"), ("POL", "Eastern Europe"),
    ("SVK", "Eastern Europe"), ("HUN", "Eastern Europe"), ("CZE", "Eastern Europe"),
    ("GBR", "Northern Europe"), ("LTU", "Northern Europe"), ("GRC", "Southern Europe"),
    ("SRB", "Southern Europe"), ("ITA", "Southern Europe"), ("DEU", "Western Europe"),
    ("FRA", "Western Europe"), ("NLD", "Western Europe"), ("TJK", "Central Asia"),
    ("KAZ", "Central Asia"), ("TUR", "Western Asia"), ("SAU", "Western Asia"),
    ("ARE", "Western Asia"), ("KWT", "Western Asia"), ("JOR", "Western Asia"),
    ("LBN", "Western Asia"), ("MYS", "South-eastern Asia"), ("SGP", "South-eastern Asia"),
    ("JPN", "Eastern Asia"), ("KOR", "Eastern Asia"), ("AUS", "Australia and New Zealand"),
    ("PNG", "Melanesia"), ("CAN", "Northern America"), ("DOM", "Latin America and the Caribbean"),
    ("PER", "Latin America and the Caribbean"), ("BOL", "Latin America and the Caribbean"),
]  # fmt: skip
ISO3 = [code for code, _ in COUNTRIES]
UN_REGIONS = sorted({region for _, region in COUNTRIES})

#: Zipf exponent of the worldwide citizenship weights (rank r has weight 1 / r**exponent).
CITIZENSHIP_ZIPF = 1.1
#: Share of a profile's citizenship drawn from the worldwide weights rather than its own countries.
CITIZENSHIP_BASE_MIX = 0.3
CITIZENSHIP_MISSING_RATE = 0.04
EXPLOITATION_COUNTRY_MISSING_RATE = 0.06

#: Years of registration and their weights: growth of about 15 % a year, with a dip in 2020–2021.
YEARS = np.arange(2002, 2024)
YEAR_WEIGHTS = 1.15 ** (YEARS - 2002) * np.where((YEARS == 2020) | (YEARS == 2021), 0.7, 1.0)

GENDERS = ["Female", "Male", "Transgender/NonConforming"]
GENDER_MISSING_RATE = 0.01

#: Age bands (CTDC spelling) and the whole years each covers; ages are drawn uniformly within a band.
AGE_BANDS = ["0--8", "9--17", "18--20", "21--23", "24--26", "27--29", "30--38", "39--47", "48+"]
AGE_RANGES = [(0, 8), (9, 17), (18, 20), (21, 23), (24, 26), (27, 29), (30, 38), (39, 47), (48, 75)]
AGE_MISSING_RATE = 0.35

#: Months trafficked: a rounded log-normal (per-profile median, this spread), capped at 120.
MONTHS_SIGMA = 1.1
MONTHS_MAX = 120
MONTHS_MISSING_RATE = 0.55

#: Means of control: (CTDC flag column, short name in ``means_of_control``).
MEANS_OF_CONTROL = [
    ("meansOfControlDebtBondage", "debt bondage"),
    ("meansOfControlTakesEarnings", "takes earnings"),
    ("meansOfControlRestrictsFinancialAccess", "restricts financial access"),
    ("meansOfControlThreats", "threats"),
    ("meansOfControlPsychologicalAbuse", "psychological abuse"),
    ("meansOfControlPhysicalAbuse", "physical abuse"),
    ("meansOfControlSexualAbuse", "sexual abuse"),
    ("meansOfControlFalsePromises", "false promises"),
    ("meansOfControlPsychoactiveSubstances", "psychoactive substances"),
    ("meansOfControlRestrictsMovement", "restricts movement"),
    ("meansOfControlRestrictsMedicalCare", "restricts medical care"),
    ("meansOfControlExcessiveWorkingHours", "excessive working hours"),
    ("meansOfControlUsesChildren", "uses children"),
    ("meansOfControlThreatOfLawEnforcement", "threat of law enforcement"),
    ("meansOfControlWithholdsNecessities", "withholds necessities"),
    ("meansOfControlWithholdsDocuments", "withholds documents"),
    ("meansOfControlOther", "other"),
]
#: Share of victims whose means of control were not recorded (all flags empty).
MEANS_MISSING_RATE = 0.45
#: Probability of a means of control no profile names.
MEANS_DEFAULT = 0.04
#: Weight of the per-victim severity (standard normal) on the log-odds of every means of control.
SEVERITY_LOADING = 0.9

EXPLOITATION_TYPES = [
    ("isForcedLabour", "forced labour"),
    ("isSexualExploitation", "sexual exploitation"),
    ("isOtherExploit", "other"),
]
LABOUR_SECTORS = [
    ("typeOfLabourAgriculture", "agriculture"),
    ("typeOfLabourAquafarming", "aquafarming"),
    ("typeOfLabourBegging", "begging"),
    ("typeOfLabourConstruction", "construction"),
    ("typeOfLabourDomesticWork", "domestic work"),
    ("typeOfLabourFishing", "fishing"),
    ("typeOfLabourHospitality", "hospitality"),
    ("typeOfLabourIllicitActivities", "illicit activities"),
    ("typeOfLabourManufacturing", "manufacturing"),
    ("typeOfLabourMiningOrDrilling", "mining or drilling"),
    ("typeOfLabourPeddling", "peddling"),
    ("typeOfLabourTransportation", "transportation"),
    ("typeOfLabourOther", "other"),
]
SEX_SECTORS = [
    ("typeOfSexProstitution", "prostitution"),
    ("typeOfSexPornography", "pornography"),
    ("typeOfSexRemoteInteractiveServices", "remote interactive services"),
    ("typeOfSexPrivateSexualServices", "private sexual services"),
]
#: Among victims of that exploitation: share whose sector is unknown (its flags empty).
LABOUR_SECTOR_MISSING_RATE = 0.3
SEX_SECTOR_MISSING_RATE = 0.35
#: Among victims with a known sector: share with a second sector.
SECOND_SECTOR_RATE = 0.08

RECRUITER_RELATIONS = ["Intimate Partner", "Friend", "Family/Relative", "Other", "Unknown"]
RECRUITER_MISSING_RATE = 0.4
#: Share of known recruiter relations (other than Unknown) that list a second relation.
SECOND_RECRUITER_RATE = 0.06

#: Perpetrators: share of victims with none; the others have 1 + NegativeBinomial (capped).
NO_PERPETRATOR_RATE = 0.10
PERPETRATORS_MEAN = 2.2
PERPETRATORS_DISPERSION = 0.8  # shape of the negative binomial: smaller = longer tail
PERPETRATORS_MAX = 30
PERPETRATOR_GENDERS = ["Male", "Female"]
PERPETRATOR_GENDER_MISSING_RATE = 0.3
PERPETRATOR_AGE_MISSING_RATE = 0.55
PERPETRATOR_REGION_MISSING_RATE = 0.4
PERPETRATOR_RELATION_MISSING_RATE = 0.35
PERPETRATOR_ROLES_MISSING_RATE = 0.4
#: A perpetrator's UN region: the victim's citizenship region, else the exploitation country's,
#: else drawn from the worldwide weights.
REGION_SAME_AS_VICTIM = 0.6
REGION_OF_EXPLOITATION = 0.25
PERPETRATOR_RELATIONS = [
    "Family/Relative", "Intimate Partner", "Friend/Acquaintance", "Employer", "Stranger/Unknown", "Other",
]  # fmt: skip
#: Share of first perpetrators whose relation repeats the victim's (first) recruiter relation.
FIRST_PERPETRATOR_IS_RECRUITER = 0.7
_RECRUITER_TO_RELATION = {
    "Intimate Partner": "Intimate Partner",
    "Friend": "Friend/Acquaintance",
    "Family/Relative": "Family/Relative",
    "Other": "Other",
    "Unknown": "Stranger/Unknown",
}
ROLES = ["is_recruiter", "is_transporter", "is_exploiter", "is_controller"]


@dataclass(frozen=True)
class Profile:
    """A latent case profile: the distributions of a victim's columns, given the profile.

    Dictionaries name only the values a profile favours; any value not named
    has weight 0 (or :data:`MEANS_DEFAULT` for means of control).
    """

    name: str
    weight: float
    gender: tuple[float, float, float]  # Female, Male, Transgender/NonConforming
    age_bands: tuple[float, ...]  # weights of AGE_BANDS
    citizenship: dict[str, float]
    same_country: float  # probability that the country of exploitation is the citizenship
    destinations: dict[str, float]
    months_median: float
    exploitation: tuple[float, float, float]  # P(forced labour), P(sexual), P(other)
    main_exploitation: int  # set when none of the three was drawn
    labour_sectors: dict[str, float]
    sex_sectors: dict[str, float]
    means: dict[str, float]
    recruiter: dict[str, float]
    perpetrator_gender: tuple[float, float]  # Male, Female
    perpetrator_age_bands: tuple[float, ...]
    perpetrator_relation: dict[str, float]
    roles: tuple[float, float, float, float]  # recruiter, transporter, exploiter, controller
    extra: dict[str, float] = field(default_factory=dict)


_ADULT_PERPETRATOR = (0.0, 0.01, 0.04, 0.08, 0.12, 0.14, 0.32, 0.2, 0.09)

#: The case profiles and their weights (shares of victims).
PROFILES: list[Profile] = [
    Profile(
        name="sexual exploitation, young women, intimate-partner recruiter",
        weight=0.30,
        gender=(0.93, 0.06, 0.01),
        age_bands=(0.01, 0.22, 0.2, 0.16, 0.12, 0.08, 0.13, 0.06, 0.02),
        citizenship={"USA": 0.3, "MDA": 0.14, "UKR": 0.12, "ROU": 0.1, "NGA": 0.08, "BGR": 0.06,
                     "ALB": 0.05, "MEX": 0.05, "VNM": 0.04, "THA": 0.03, "COL": 0.03},
        same_country=0.55,
        destinations={"USA": 0.25, "RUS": 0.1, "TUR": 0.1, "DEU": 0.08, "ITA": 0.08, "GBR": 0.08,
                      "ARE": 0.06, "NLD": 0.05, "GRC": 0.05, "FRA": 0.05, "JPN": 0.04, "MYS": 0.03,
                      "THA": 0.03},
        months_median=8.0,
        exploitation=(0.05, 0.98, 0.03),
        main_exploitation=1,
        labour_sectors={"hospitality": 0.45, "domestic work": 0.3, "other": 0.25},
        sex_sectors={"prostitution": 0.82, "pornography": 0.08, "private sexual services": 0.08,
                     "remote interactive services": 0.02},
        means={"physical abuse": 0.5, "psychological abuse": 0.55, "sexual abuse": 0.45, "threats": 0.45,
               "takes earnings": 0.4, "psychoactive substances": 0.25, "restricts movement": 0.3,
               "false promises": 0.3, "debt bondage": 0.12, "withholds documents": 0.1,
               "restricts financial access": 0.15},
        recruiter={"Intimate Partner": 0.42, "Friend": 0.2, "Family/Relative": 0.12, "Other": 0.16,
                   "Unknown": 0.1},
        perpetrator_gender=(0.7, 0.3),
        perpetrator_age_bands=(0.0, 0.02, 0.08, 0.14, 0.16, 0.16, 0.28, 0.12, 0.04),
        perpetrator_relation={"Intimate Partner": 0.35, "Friend/Acquaintance": 0.2, "Family/Relative": 0.1,
                              "Stranger/Unknown": 0.2, "Other": 0.15},
        roles=(0.6, 0.3, 0.7, 0.5),
    ),
    Profile(
        name="forced labour, men, agriculture and construction, debt bondage",
        weight=0.22,
        gender=(0.14, 0.858, 0.002),
        age_bands=(0.0, 0.02, 0.08, 0.12, 0.14, 0.14, 0.28, 0.16, 0.06),
        citizenship={"UKR": 0.2, "BLR": 0.15, "KHM": 0.1, "UZB": 0.1, "KGZ": 0.1, "MDA": 0.08, "TJK": 0.07,
                     "IDN": 0.05, "NPL": 0.05, "BGD": 0.04, "IND": 0.03, "GTM": 0.03},
        same_country=0.2,
        destinations={"RUS": 0.45, "KAZ": 0.1, "POL": 0.08, "THA": 0.08, "MYS": 0.08, "USA": 0.06,
                      "SAU": 0.05, "GBR": 0.04, "CZE": 0.03, "ITA": 0.03},
        months_median=6.0,
        exploitation=(0.98, 0.02, 0.05),
        main_exploitation=0,
        labour_sectors={"agriculture": 0.35, "construction": 0.35, "manufacturing": 0.12,
                        "mining or drilling": 0.06, "transportation": 0.05, "other": 0.07},
        sex_sectors={"prostitution": 1.0},
        means={"debt bondage": 0.5, "withholds documents": 0.55, "takes earnings": 0.5,
               "false promises": 0.45, "excessive working hours": 0.45, "threats": 0.35,
               "restricts movement": 0.3, "withholds necessities": 0.2, "threat of law enforcement": 0.2,
               "physical abuse": 0.15,
               "restricts financial access": 0.2},
        recruiter={"Friend": 0.3, "Other": 0.35, "Unknown": 0.2, "Family/Relative": 0.12,
                   "Intimate Partner": 0.03},
        perpetrator_gender=(0.85, 0.15),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Employer": 0.45, "Friend/Acquaintance": 0.15, "Stranger/Unknown": 0.25,
                              "Other": 0.1, "Family/Relative": 0.05},
        roles=(0.5, 0.35, 0.75, 0.45),
    ),
    Profile(
        name="domestic servitude, women, migrant workers",
        weight=0.14,
        gender=(0.9, 0.099, 0.001),
        age_bands=(0.0, 0.04, 0.08, 0.14, 0.16, 0.16, 0.28, 0.11, 0.03),
        citizenship={"PHL": 0.4, "IDN": 0.3, "LKA": 0.06, "NPL": 0.06, "ETH": 0.06, "BGD": 0.04,
                     "KEN": 0.04, "UGA": 0.04},
        same_country=0.1,
        destinations={"SAU": 0.25, "ARE": 0.2, "KWT": 0.15, "MYS": 0.15, "JOR": 0.05, "LBN": 0.05,
                      "SGP": 0.05, "USA": 0.05, "GBR": 0.05},
        months_median=14.0,
        exploitation=(0.97, 0.08, 0.02),
        main_exploitation=0,
        labour_sectors={"domestic work": 0.9, "hospitality": 0.05, "other": 0.05},
        sex_sectors={"prostitution": 0.5, "private sexual services": 0.5},
        means={"withholds documents": 0.6, "restricts movement": 0.55, "excessive working hours": 0.6,
               "takes earnings": 0.45, "psychological abuse": 0.4, "physical abuse": 0.25,
               "withholds necessities": 0.35, "restricts medical care": 0.2, "sexual abuse": 0.1,
               "threats": 0.3, "threat of law enforcement": 0.15},
        recruiter={"Other": 0.5, "Friend": 0.2, "Family/Relative": 0.15, "Unknown": 0.15},
        perpetrator_gender=(0.55, 0.45),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Employer": 0.6, "Stranger/Unknown": 0.2, "Other": 0.15,
                              "Friend/Acquaintance": 0.05},
        roles=(0.45, 0.2, 0.8, 0.55),
    ),
    Profile(
        name="forced labour at sea, men, fishing",
        weight=0.06,
        gender=(0.02, 0.98, 0.0),
        age_bands=(0.0, 0.05, 0.12, 0.15, 0.15, 0.14, 0.26, 0.1, 0.03),
        citizenship={"MMR": 0.4, "KHM": 0.3, "LAO": 0.1, "IDN": 0.1, "THA": 0.05, "VNM": 0.05},
        same_country=0.15,
        destinations={"THA": 0.5, "IDN": 0.2, "MYS": 0.15, "KOR": 0.05, "PNG": 0.05, "ZAF": 0.05},
        months_median=18.0,
        exploitation=(1.0, 0.0, 0.02),
        main_exploitation=0,
        labour_sectors={"fishing": 0.8, "aquafarming": 0.1, "manufacturing": 0.1},
        sex_sectors={"prostitution": 1.0},
        means={"debt bondage": 0.55, "withholds documents": 0.6, "physical abuse": 0.45,
               "excessive working hours": 0.7, "threats": 0.5, "restricts movement": 0.5,
               "withholds necessities": 0.35, "takes earnings": 0.4, "restricts medical care": 0.25},
        recruiter={"Other": 0.45, "Friend": 0.25, "Unknown": 0.25, "Family/Relative": 0.05},
        perpetrator_gender=(0.97, 0.03),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Employer": 0.55, "Stranger/Unknown": 0.3, "Other": 0.1,
                              "Friend/Acquaintance": 0.05},
        roles=(0.4, 0.45, 0.8, 0.6),
    ),
    Profile(
        name="children exploited by family: begging, peddling, crime",
        weight=0.08,
        gender=(0.5, 0.495, 0.005),
        age_bands=(0.25, 0.5, 0.1, 0.05, 0.03, 0.02, 0.03, 0.01, 0.01),
        citizenship={"VNM": 0.2, "NPL": 0.15, "IND": 0.15, "BGD": 0.1, "HTI": 0.1, "ALB": 0.08, "ROU": 0.08,
                     "SEN": 0.07, "GHA": 0.07},
        same_country=0.7,
        destinations={"GBR": 0.25, "IND": 0.2, "ITA": 0.15, "FRA": 0.1, "DOM": 0.1, "GRC": 0.1, "SEN": 0.1},
        months_median=12.0,
        exploitation=(0.5, 0.1, 0.6),
        main_exploitation=2,
        labour_sectors={"begging": 0.35, "peddling": 0.2, "illicit activities": 0.2, "domestic work": 0.15,
                        "agriculture": 0.1},
        sex_sectors={"prostitution": 0.8, "pornography": 0.2},
        means={"uses children": 0.4, "threats": 0.3, "psychological abuse": 0.4, "physical abuse": 0.35,
               "withholds necessities": 0.3, "takes earnings": 0.3, "restricts movement": 0.2},
        recruiter={"Family/Relative": 0.65, "Friend": 0.1, "Other": 0.15, "Unknown": 0.1},
        perpetrator_gender=(0.55, 0.45),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Family/Relative": 0.65, "Friend/Acquaintance": 0.1, "Other": 0.15,
                              "Stranger/Unknown": 0.1},
        roles=(0.5, 0.25, 0.8, 0.55),
    ),
    Profile(
        name="online sexual exploitation of children",
        weight=0.05,
        gender=(0.75, 0.24, 0.01),
        age_bands=(0.2, 0.55, 0.1, 0.05, 0.03, 0.02, 0.03, 0.01, 0.01),
        citizenship={"PHL": 0.7, "USA": 0.1, "THA": 0.05, "IND": 0.05, "MEX": 0.05, "COL": 0.05},
        same_country=0.95,
        destinations={"PHL": 0.6, "USA": 0.4},
        months_median=24.0,
        exploitation=(0.0, 1.0, 0.02),
        main_exploitation=1,
        labour_sectors={"other": 1.0},
        sex_sectors={"remote interactive services": 0.6, "pornography": 0.35, "prostitution": 0.05},
        means={"psychological abuse": 0.5, "sexual abuse": 0.4, "uses children": 0.3, "takes earnings": 0.2,
               "threats": 0.2},
        recruiter={"Family/Relative": 0.6, "Friend": 0.1, "Other": 0.1, "Unknown": 0.15,
                   "Intimate Partner": 0.05},
        perpetrator_gender=(0.6, 0.4),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Family/Relative": 0.6, "Friend/Acquaintance": 0.1, "Stranger/Unknown": 0.2,
                              "Other": 0.1},
        roles=(0.4, 0.05, 0.85, 0.4),
    ),
    Profile(
        name="labour and sexual exploitation in bars and hotels",
        weight=0.09,
        gender=(0.72, 0.27, 0.01),
        age_bands=(0.0, 0.1, 0.16, 0.18, 0.16, 0.12, 0.18, 0.07, 0.03),
        citizenship={"UKR": 0.2, "MDA": 0.12, "THA": 0.12, "VNM": 0.12, "CHN": 0.12, "NGA": 0.1, "BGR": 0.1,
                     "KGZ": 0.06, "UZB": 0.06},
        same_country=0.25,
        destinations={"RUS": 0.2, "TUR": 0.15, "MYS": 0.1, "JPN": 0.1, "KOR": 0.1, "ARE": 0.1, "DEU": 0.1,
                      "USA": 0.1, "ITA": 0.05},
        months_median=9.0,
        exploitation=(0.8, 0.7, 0.05),
        main_exploitation=0,
        labour_sectors={"hospitality": 0.6, "domestic work": 0.1, "manufacturing": 0.1, "other": 0.2},
        sex_sectors={"prostitution": 0.7, "private sexual services": 0.3},
        means={name: 0.3 for _, name in MEANS_OF_CONTROL if name != "uses children"},
        recruiter={"Friend": 0.3, "Other": 0.3, "Intimate Partner": 0.15, "Unknown": 0.15,
                   "Family/Relative": 0.1},
        perpetrator_gender=(0.65, 0.35),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Employer": 0.3, "Friend/Acquaintance": 0.2, "Stranger/Unknown": 0.25,
                              "Intimate Partner": 0.1, "Other": 0.15},
        roles=(0.55, 0.4, 0.7, 0.5),
    ),
    Profile(
        name="other exploitation: forced marriage, forced criminality",
        weight=0.06,
        gender=(0.62, 0.37, 0.01),
        age_bands=(0.02, 0.25, 0.2, 0.15, 0.1, 0.08, 0.12, 0.05, 0.03),
        citizenship={},  # worldwide weights only
        same_country=0.6,
        destinations={"CHN": 0.3, "GBR": 0.2, "USA": 0.15, "SAU": 0.15, "IND": 0.1, "PAK": 0.1},
        months_median=20.0,
        exploitation=(0.1, 0.1, 1.0),
        main_exploitation=2,
        labour_sectors={"illicit activities": 0.5, "domestic work": 0.3, "other": 0.2},
        sex_sectors={"prostitution": 0.6, "private sexual services": 0.4},
        means={"psychological abuse": 0.4, "threats": 0.35, "physical abuse": 0.25, "restricts movement": 0.3,
               "false promises": 0.2, "sexual abuse": 0.15},
        recruiter={"Family/Relative": 0.4, "Intimate Partner": 0.2, "Friend": 0.15, "Other": 0.15,
                   "Unknown": 0.1},
        perpetrator_gender=(0.7, 0.3),
        perpetrator_age_bands=_ADULT_PERPETRATOR,
        perpetrator_relation={"Family/Relative": 0.4, "Intimate Partner": 0.15, "Friend/Acquaintance": 0.15,
                              "Stranger/Unknown": 0.15, "Other": 0.15},
        roles=(0.55, 0.3, 0.6, 0.5),
    ),
]  # fmt: skip

# ---------------------------------------------------------------------------------------------------
# Derived tables (from the configuration above).
# ---------------------------------------------------------------------------------------------------


def _normalised(weights) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    return weights / weights.sum()


def _over(values: list[str], weights: dict[str, float]) -> np.ndarray:
    """A probability vector over ``values`` from the named weights (others 0)."""
    unknown = set(weights) - set(values)
    if unknown:
        raise ValueError(f"unknown values {sorted(unknown)}")
    return _normalised([weights.get(value, 0.0) for value in values])


def citizenship_base() -> np.ndarray:
    """The worldwide citizenship weights: Zipf-like over :data:`ISO3`, in its order."""
    return _normalised(1.0 / np.arange(1, len(ISO3) + 1) ** CITIZENSHIP_ZIPF)


def profile_weights() -> np.ndarray:
    """The shares of victims in each profile."""
    return _normalised([profile.weight for profile in PROFILES])


def _citizenship_matrix() -> np.ndarray:
    base = citizenship_base()
    rows = []
    for profile in PROFILES:
        own = profile.citizenship
        rows.append(
            base if not own else CITIZENSHIP_BASE_MIX * base + (1 - CITIZENSHIP_BASE_MIX) * _over(ISO3, own)
        )
    return np.array(rows)


def expected_shares(column: str) -> dict[str, float]:
    """The configured share of each value of a column among its non-missing cells.

    Columns: ``gender``, ``citizenship`` (victims), ``perpetrator_gender``,
    ``profile``. For tests and documentation.
    """
    w = profile_weights()
    if column == "gender":
        return dict(zip(GENDERS, w @ np.array([_normalised(p.gender) for p in PROFILES])))
    if column == "citizenship":
        return dict(zip(ISO3, w @ _citizenship_matrix()))
    if column == "perpetrator_gender":
        return dict(
            zip(PERPETRATOR_GENDERS, w @ np.array([_normalised(p.perpetrator_gender) for p in PROFILES]))
        )
    if column == "profile":
        return dict(zip([p.name for p in PROFILES], w))
    raise ValueError(f"no configured shares for {column!r}")


def _cdfs(matrix: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distributions, offset by the row number (see :func:`_draw`)."""
    cdf = np.cumsum(matrix / matrix.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    return (cdf + np.arange(len(matrix))[:, None]).ravel()


def _draw(rng: np.random.Generator, flat_cdf: np.ndarray, n_values: int, group: np.ndarray) -> np.ndarray:
    """One value index per row, from the distribution of the row's group, in one searchsorted."""
    index = np.searchsorted(flat_cdf, group + rng.random(group.size), side="right")
    return np.minimum(index - group * n_values, n_values - 1).astype(np.int32)


@dataclass(frozen=True)
class _Tables:
    """The configuration as arrays, one row per profile."""

    profile_cdf: np.ndarray
    year_cdf: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    citizenship: np.ndarray
    same_country: np.ndarray
    destinations: np.ndarray
    months_log_median: np.ndarray
    exploitation: np.ndarray
    main_exploitation: np.ndarray
    labour: np.ndarray
    sex: np.ndarray
    means_logit: np.ndarray
    recruiter: np.ndarray
    perpetrator_gender: np.ndarray
    perpetrator_age: np.ndarray
    perpetrator_relation: np.ndarray
    roles: np.ndarray
    region_of_country: np.ndarray
    region_base: np.ndarray
    age_low: np.ndarray
    age_span: np.ndarray


def _tables() -> _Tables:
    means = np.array(
        [[p.means.get(name, MEANS_DEFAULT) for _, name in MEANS_OF_CONTROL] for p in PROFILES]
    ).clip(1e-4, 1 - 1e-4)
    for p in PROFILES:
        _over([name for _, name in MEANS_OF_CONTROL], p.means)  # names are checked
    region_of_country = np.array([UN_REGIONS.index(region) for _, region in COUNTRIES], dtype=np.int32)
    region_base = np.bincount(region_of_country, weights=citizenship_base(), minlength=len(UN_REGIONS))
    names = [*ISO3, *UN_REGIONS, *GENDERS, *AGE_BANDS, *RECRUITER_RELATIONS, *PERPETRATOR_RELATIONS]
    names += [
        short
        for table in (MEANS_OF_CONTROL, EXPLOITATION_TYPES, LABOUR_SECTORS, SEX_SECTORS)
        for _, short in table
    ]
    if any(ch in name for name in names for ch in ',";\r\n'):
        raise ValueError("a configured value holds a comma, quote, ';' or line break")
    lows = np.array([low for low, _ in AGE_RANGES])
    spans = np.array([high - low + 1 for low, high in AGE_RANGES])
    labour_names = [name for _, name in LABOUR_SECTORS]
    sex_names = [name for _, name in SEX_SECTORS]
    return _Tables(
        profile_cdf=_cdfs(profile_weights()[None, :]),
        year_cdf=_cdfs(YEAR_WEIGHTS[None, :]),
        gender=_cdfs(np.array([p.gender for p in PROFILES])),
        age=_cdfs(np.array([p.age_bands for p in PROFILES])),
        citizenship=_cdfs(_citizenship_matrix()),
        same_country=np.array([p.same_country for p in PROFILES]),
        destinations=_cdfs(np.array([_over(ISO3, p.destinations) for p in PROFILES])),
        months_log_median=np.log(np.array([p.months_median for p in PROFILES])),
        exploitation=np.array([p.exploitation for p in PROFILES]),
        main_exploitation=np.array([p.main_exploitation for p in PROFILES]),
        labour=_cdfs(np.array([_over(labour_names, p.labour_sectors) for p in PROFILES])),
        sex=_cdfs(np.array([_over(sex_names, p.sex_sectors) for p in PROFILES])),
        means_logit=np.log(means / (1 - means)).astype(np.float32),
        recruiter=_cdfs(np.array([_over(RECRUITER_RELATIONS, p.recruiter) for p in PROFILES])),
        perpetrator_gender=_cdfs(np.array([p.perpetrator_gender for p in PROFILES])),
        perpetrator_age=_cdfs(np.array([p.perpetrator_age_bands for p in PROFILES])),
        perpetrator_relation=_cdfs(
            np.array([_over(PERPETRATOR_RELATIONS, p.perpetrator_relation) for p in PROFILES])
        ),
        roles=np.array([p.roles for p in PROFILES]),
        region_of_country=region_of_country,
        region_base=_cdfs(region_base[None, :]),
        age_low=lows,
        age_span=spans,
    )


# ---------------------------------------------------------------------------------------------------
# Column builders.
# ---------------------------------------------------------------------------------------------------


def _categorical(
    codes: np.ndarray, values: list[str], missing: np.ndarray | None = None
) -> pa.DictionaryArray:
    """A dictionary column of ``values`` from value indices; ``missing`` rows are null."""
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    validity = None
    if missing is not None and missing.any():
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    indices = pa.Array.from_buffers(pa.int32(), codes.size, [validity, pa.py_buffer(codes)])
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string()))


def _flags(bits: np.ndarray, missing: np.ndarray | None) -> pa.DictionaryArray:
    """A ``"0"``/``"1"`` flag column; ``missing`` rows are null."""
    return _categorical(bits.astype(np.int32), ["0", "1"], missing)


def _joined(flags: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    """The set flags of each row (a ``(rows, len(names))`` bool array) joined by ``;``; null when none."""
    mask = np.zeros(flags.shape[0], dtype=np.int32)
    for j in range(flags.shape[1]):
        mask |= flags[:, j].astype(np.int32) << j
    used = np.flatnonzero(np.bincount(mask, minlength=1 << len(names)))
    lookup = np.zeros(1 << len(names), dtype=np.int32)
    lookup[used] = np.arange(used.size, dtype=np.int32)
    words = [";".join(name for j, name in enumerate(names) if m >> j & 1) for m in used.tolist()]
    return _categorical(lookup[mask], words, mask == 0)


def _ids(prefix: str, start: int, count: int, width: int) -> pa.Array:
    """``count`` ids ``PREFIX000…`` numbered from ``start + 1``, zero-padded to ``width`` digits."""
    numbers = pc.cast(pa.array(np.arange(start + 1, start + count + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def _id_width(victims: int) -> tuple[int, int]:
    """Digits of victim ids and of perpetrator ids for a table of ``victims``."""
    return max(7, len(str(victims))), max(8, len(str(victims * PERPETRATORS_MAX)))


def _perpetrator_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Perpetrators of each victim: none with :data:`NO_PERPETRATOR_RATE`, else 1 + NegativeBinomial."""
    extra_mean = PERPETRATORS_MEAN / (1 - NO_PERPETRATOR_RATE) - 1
    p = PERPETRATORS_DISPERSION / (PERPETRATORS_DISPERSION + extra_mean)
    counts = 1 + rng.negative_binomial(PERPETRATORS_DISPERSION, p, size=n)
    counts = np.minimum(counts, PERPETRATORS_MAX)
    counts[rng.random(n) < NO_PERPETRATOR_RATE] = 0
    return counts.astype(np.int64)


def _sectors(
    rng: np.random.Generator,
    cdf: np.ndarray,
    n_values: int,
    profile: np.ndarray,
    applies: np.ndarray,
    missing_rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Sector flags (rows × values) and their missing rows: one sector, sometimes two, where ``applies``."""
    n = profile.size
    known = applies & (rng.random(n) >= missing_rate)
    flags = np.zeros((n, n_values), dtype=bool)
    rows = np.arange(n)
    flags[rows, _draw(rng, cdf, n_values, profile)] = True
    second = rng.random(n) < SECOND_SECTOR_RATE
    flags[rows[second], _draw(rng, cdf, n_values, profile[second])] = True
    flags &= known[:, None]
    return flags, ~known


def _chunk(tables: _Tables, rng: np.random.Generator, n: int, victim_start: int, perpetrator_start: int,
           widths: tuple[int, int]) -> tuple[pa.Table, pa.Table]:  # fmt: skip
    """One chunk of ``n`` victims (ids from ``victim_start + 1``) and their perpetrators."""
    t = tables
    profile = _draw(rng, t.profile_cdf, len(PROFILES), np.zeros(n, dtype=np.int32))
    zeros = np.zeros(n, dtype=np.int32)
    year = YEARS[_draw(rng, t.year_cdf, len(YEARS), zeros)].astype(np.int16)
    gender = _draw(rng, t.gender, len(GENDERS), profile)
    band = _draw(rng, t.age, len(AGE_BANDS), profile)
    age = (t.age_low[band] + np.floor(rng.random(n) * t.age_span[band])).astype(np.int16)
    citizenship = _draw(rng, t.citizenship, len(ISO3), profile)
    citizenship_missing = rng.random(n) < CITIZENSHIP_MISSING_RATE
    destination = _draw(rng, t.destinations, len(ISO3), profile)
    same = rng.random(n) < t.same_country[profile]
    exploited_in = np.where(same, citizenship, destination)
    exploited_in_missing = rng.random(n) < EXPLOITATION_COUNTRY_MISSING_RATE
    months = np.rint(np.exp(t.months_log_median[profile] + MONTHS_SIGMA * rng.standard_normal(n)))
    months = np.minimum(months, MONTHS_MAX).astype(np.int16)

    severity = rng.standard_normal(n).astype(np.float32)
    logit = t.means_logit[profile] + np.float32(SEVERITY_LOADING) * severity[:, None]
    means = rng.random((n, len(MEANS_OF_CONTROL)), dtype=np.float32) * (1 + np.exp(-logit)) < 1
    means_missing = rng.random(n) < MEANS_MISSING_RATE
    means &= ~means_missing[:, None]

    exploitation = rng.random((n, 3)) < t.exploitation[profile]
    none = ~exploitation.any(axis=1)
    exploitation[np.flatnonzero(none), t.main_exploitation[profile[none]]] = True
    labour, labour_missing = _sectors(
        rng, t.labour, len(LABOUR_SECTORS), profile, exploitation[:, 0], LABOUR_SECTOR_MISSING_RATE
    )
    sex, sex_missing = _sectors(
        rng, t.sex, len(SEX_SECTORS), profile, exploitation[:, 1], SEX_SECTOR_MISSING_RATE
    )

    first = _draw(rng, t.recruiter, len(RECRUITER_RELATIONS), profile)
    recruiter_missing = rng.random(n) < RECRUITER_MISSING_RATE
    recruiter = np.zeros((n, len(RECRUITER_RELATIONS)), dtype=bool)
    rows = np.arange(n)
    recruiter[rows, first] = True
    unknown = RECRUITER_RELATIONS.index("Unknown")
    second = (rng.random(n) < SECOND_RECRUITER_RATE) & (first != unknown)
    other = _draw(rng, t.recruiter, len(RECRUITER_RELATIONS), profile[second])
    keep = other != unknown
    recruiter[rows[second][keep], other[keep]] = True
    recruiter &= ~recruiter_missing[:, None]

    columns: dict[str, pa.Array] = {
        "victim_id": _ids("V", victim_start, n, widths[0]),
        "year_of_registration": pa.array(year),
        "gender": _categorical(gender, GENDERS, rng.random(n) < GENDER_MISSING_RATE),
        "age": pa.array(age, mask=rng.random(n) < AGE_MISSING_RATE),
        "citizenship": _categorical(citizenship, ISO3, citizenship_missing),
        "country_of_exploitation": _categorical(exploited_in, ISO3, exploited_in_missing),
        "months_trafficked": pa.array(months, mask=rng.random(n) < MONTHS_MISSING_RATE),
    }
    for j, (name, _) in enumerate(MEANS_OF_CONTROL):
        columns[name] = _flags(means[:, j], means_missing)
    columns["means_of_control"] = _joined(means, [short for _, short in MEANS_OF_CONTROL])
    for j, (name, _) in enumerate(EXPLOITATION_TYPES):
        columns[name] = _flags(exploitation[:, j], None)
    columns["type_of_exploitation"] = _joined(exploitation, [short for _, short in EXPLOITATION_TYPES])
    for j, (name, _) in enumerate(LABOUR_SECTORS):
        columns[name] = _flags(labour[:, j], labour_missing)
    columns["labour_sector"] = _joined(labour, [short for _, short in LABOUR_SECTORS])
    for j, (name, _) in enumerate(SEX_SECTORS):
        columns[name] = _flags(sex[:, j], sex_missing)
    columns["sex_sector"] = _joined(sex, [short for _, short in SEX_SECTORS])
    columns["recruiter_relation"] = _joined(recruiter, RECRUITER_RELATIONS)
    victims = pa.Table.from_pydict(columns)

    # Perpetrators: each row follows its victim's profile, citizenship and recruiter.
    counts = _perpetrator_counts(rng, n)
    owner = np.repeat(np.arange(n), counts)
    m = owner.size
    rank = np.arange(m) - np.repeat(np.cumsum(counts) - counts, counts)
    kind = profile[owner]
    relation = _draw(rng, t.perpetrator_relation, len(PERPETRATOR_RELATIONS), kind)
    relation_names = np.array(
        [PERPETRATOR_RELATIONS.index(_RECRUITER_TO_RELATION[r]) for r in RECRUITER_RELATIONS]
    )
    copies = (rank == 0) & ~recruiter_missing[owner] & (rng.random(m) < FIRST_PERPETRATOR_IS_RECRUITER)
    relation[copies] = relation_names[first[owner[copies]]]
    region = _draw(rng, t.region_base, len(UN_REGIONS), np.zeros(m, dtype=np.int32))
    u = rng.random(m)
    home = (u < REGION_SAME_AS_VICTIM) & ~citizenship_missing[owner]
    region[home] = t.region_of_country[citizenship[owner[home]]]
    abroad = (u >= REGION_SAME_AS_VICTIM) & (u < REGION_SAME_AS_VICTIM + REGION_OF_EXPLOITATION)
    abroad &= ~exploited_in_missing[owner]
    region[abroad] = t.region_of_country[exploited_in[owner[abroad]]]
    roles = rng.random((m, len(ROLES))) < t.roles[kind]
    roles[:, 0] |= copies  # the perpetrator who repeats the recruiter relation recruited
    roles_missing = rng.random(m) < PERPETRATOR_ROLES_MISSING_RATE
    perpetrators = {
        "victim_id": victims.column("victim_id").take(pa.array(owner)),
        "perpetrator_id": _ids("P", perpetrator_start, m, widths[1]),
        "gender": _categorical(
            _draw(rng, t.perpetrator_gender, len(PERPETRATOR_GENDERS), kind),
            PERPETRATOR_GENDERS,
            rng.random(m) < PERPETRATOR_GENDER_MISSING_RATE,
        ),
        "age_band": _categorical(
            _draw(rng, t.perpetrator_age, len(AGE_BANDS), kind),
            AGE_BANDS,
            rng.random(m) < PERPETRATOR_AGE_MISSING_RATE,
        ),
        "citizenship_un_region": _categorical(
            region, UN_REGIONS, rng.random(m) < PERPETRATOR_REGION_MISSING_RATE
        ),
        "relation_to_victim": _categorical(
            relation, PERPETRATOR_RELATIONS, rng.random(m) < PERPETRATOR_RELATION_MISSING_RATE
        ),
    }
    for j, name in enumerate(ROLES):
        perpetrators[name] = _flags(roles[:, j], roles_missing)
    return victims, pa.Table.from_pydict(perpetrators)


# ---------------------------------------------------------------------------------------------------
# The public functions.
# ---------------------------------------------------------------------------------------------------


def check_victims(victims: int) -> None:
    """Refuse, in one line, a number of victims the generator does not make."""
    if not MIN_VICTIMS <= victims <= MAX_VICTIMS:
        raise ParameterError(
            f"--rows (victims) must be from {MIN_VICTIMS:,} to {MAX_VICTIMS:,}, got {victims:,}"
        )


def iter_cases(victims: int, seed: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """The victims and perpetrators tables, chunk by chunk (bounded memory)."""
    check_victims(victims)
    if seed < 0:
        raise ParameterError(f"--seed must be 0 or more, got {seed}")
    tables = _tables()
    widths = _id_width(victims)
    n_chunks = -(-victims // CHUNK_ROWS)
    streams = np.random.SeedSequence(seed).spawn(n_chunks)
    perpetrator_start = 0
    for chunk, stream in enumerate(streams):
        start = chunk * CHUNK_ROWS
        n = min(CHUNK_ROWS, victims - start)
        pair = _chunk(
            tables, np.random.Generator(np.random.PCG64(stream)), n, start, perpetrator_start, widths
        )
        perpetrator_start += pair[1].num_rows
        yield pair


def generate_cases(victims: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """``(victims, perpetrators)``: fake trafficking case records, the same for the same seed."""
    chunks = list(iter_cases(victims, seed))
    return tuple(pa.concat_tables([pair[i] for pair in chunks]).unify_dictionaries() for i in (0, 1))  # type: ignore[return-value]


FORMATS = ("csv", "parquet")


def case_file_names(fmt: str) -> tuple[str, str]:
    """The two files a run writes: ``victims.FMT`` and ``perpetrators.FMT``."""
    if fmt not in FORMATS:
        raise ParameterError(f"--format must be csv or parquet, got {fmt!r}")
    return f"victims.{fmt}", f"perpetrators.{fmt}"


class _Writer:
    """Writes tables chunk by chunk, as CSV (missing = empty field) or zstd Parquet, by extension."""

    def __init__(self, path: Path) -> None:
        self.path, self.parquet, self.writer = path, path.suffix.lower() == ".parquet", None

    def write(self, table: pa.Table) -> None:
        if not self.parquet:
            plain = pa.schema(
                [
                    pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                    for f in table.schema
                ]
            )
            table = table.cast(plain)
        if self.writer is None:
            if self.parquet:
                self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            else:
                # No generated value holds a comma, quote or line break (checked in _tables).
                options = pacsv.WriteOptions(quoting_style="none")
                self.writer = pacsv.CSVWriter(self.path, table.schema, write_options=options)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_cases(
    victims: int, seed: int, victims_path: str | Path, perpetrators_path: str | Path
) -> tuple[int, int]:
    """Generate and write both tables (format by extension); return (victims, perpetrator rows)."""
    writers = [_Writer(Path(victims_path)), _Writer(Path(perpetrators_path))]
    rows = [0, 0]
    try:
        for pair in iter_cases(victims, seed):
            for i, table in enumerate(pair):
                writers[i].write(table)
                rows[i] += table.num_rows
    finally:
        for writer in writers:
            writer.close()
    return rows[0], rows[1]


#: The name of the public codebook written beside the two tables.
CODEBOOK_NAME = "codebook.yaml"
#: CTDC's age bands as bin edges (``0--8`` ... ``48+``), and bands of months trafficked.
AGE_EDGES = [0, 9, 18, 21, 24, 27, 30, 39, 48]
MONTHS_EDGES = [0, 1, 3, 6, 12, 24, 60]


def cases_codebook(perpetrators_file: str) -> dict:
    """A public codebook of the generated tables: every value the generator can write, a release's columns.

    Its values come from this module's configuration (public), never from
    generated data, so it is the public domain of a DP release.
    """

    def listed(values) -> dict:
        return {"values": sorted(values, key=str.encode)}

    def multi(pairs) -> dict:
        return {"multi_value": ";", "values": sorted({short for _, short in pairs}, key=str.encode)}

    return {
        "showcase_codebook": 1,
        "subject_id": "victim_id",
        "columns": {
            "year_of_registration": listed(str(year) for year in YEARS),
            "gender": listed(GENDERS),
            "age": {"bins": {"edges": AGE_EDGES, "open": "above", "labels": "ctdc"}},
            "citizenship": listed(ISO3),
            "country_of_exploitation": listed(ISO3),
            "months_trafficked": {"bins": {"edges": MONTHS_EDGES, "open": "above"}},
            "type_of_exploitation": multi(EXPLOITATION_TYPES),
            "means_of_control": multi(MEANS_OF_CONTROL),
            "labour_sector": multi(LABOUR_SECTORS),
            "sex_sector": multi(SEX_SECTORS),
            "recruiter_relation": {"multi_value": ";", "values": sorted(RECRUITER_RELATIONS, key=str.encode)},
        },
        "links": [
            {
                "table": perpetrators_file,
                "on": "victim_id",
                "prefix": "perp_",
                "max_linked": 5,
                "columns": {
                    "gender": listed(PERPETRATOR_GENDERS),
                    "age_band": listed(AGE_BANDS),
                    "relation_to_victim": listed(PERPETRATOR_RELATIONS),
                    "is_recruiter": listed(["0", "1"]),
                    "is_exploiter": listed(["0", "1"]),
                },
            }
        ],
    }


def write_codebook(path: str | Path, perpetrators_file: str) -> None:
    """Write :func:`cases_codebook` as YAML."""
    import yaml

    Path(path).write_text(
        yaml.safe_dump(cases_codebook(perpetrators_file), sort_keys=False), encoding="utf-8"
    )
