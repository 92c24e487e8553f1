"""The IoD2019 domains: canonical keys, the official column headers, and the IMD weights."""

from __future__ import annotations

from dataclasses import dataclass

from thisineq.errors import UnknownKeyError


@dataclass(frozen=True)
class Domain:
    key: str  # canonical key used everywhere in thisineq, e.g. "income"
    label: str  # short human label for the UI
    official: str  # the stem of the official IoD2019 column headers
    imd_weight: float  # weight of the domain in the IMD (0 for the IMD itself)

    @property
    def rank_header(self) -> str:
        return f"{self.official} Rank (where 1 is most deprived)"

    @property
    def decile_header(self) -> str:
        return f"{self.official} Decile (where 1 is most deprived 10% of LSOAs)"

    @property
    def score_header(self) -> str:
        # File 7 names the two rate domains "Score (rate)", the others "Score".
        suffix = " (rate)" if self.key in ("income", "employment") else ""
        return f"{self.official} Score{suffix}"


DOMAINS: tuple[Domain, ...] = (
    Domain("imd", "IMD", "Index of Multiple Deprivation (IMD)", 0.0),
    Domain("income", "Income", "Income", 0.225),
    Domain("employment", "Employment", "Employment", 0.225),
    Domain("education", "Education", "Education, Skills and Training", 0.135),
    Domain("health", "Health", "Health Deprivation and Disability", 0.135),
    Domain("crime", "Crime", "Crime", 0.093),
    Domain("barriers", "Barriers to housing", "Barriers to Housing and Services", 0.093),
    Domain("living_environment", "Living environment", "Living Environment", 0.093),
)
DOMAIN_KEYS: tuple[str, ...] = tuple(d.key for d in DOMAINS)
DEFAULT_DOMAINS: tuple[str, ...] = ("income", "health", "education")
BY_KEY: dict[str, Domain] = {d.key: d for d in DOMAINS}

# Identifier columns shared by File 2, File 6 and File 7.
LSOA_CODE = "LSOA code (2011)"
LSOA_NAME = "LSOA name (2011)"
LAD_CODE = "Local Authority District code (2019)"
LAD_NAME = "Local Authority District name (2019)"


def domain(key: str) -> Domain:
    """The domain with this canonical key; a clear error names the valid keys."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise UnknownKeyError(f"unknown IoD2019 domain {key!r}; expected one of {', '.join(DOMAIN_KEYS)}") from None


# Synthetic areas use GSS-shaped codes with an "X" entity letter, which no real GSS
# code has, so a synthetic LSOA can never be mistaken for a real one.
SYNTHETIC_LSOA_PREFIX = "X01"
SYNTHETIC_DISTRICT_PREFIX = "X09"
LSOA_CODE_PATTERN = r"^(E01|X01)\d{6}$"
