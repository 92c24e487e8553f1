"""Read, validate and write the IoD2019 LSOA tables: File 2 (ranks, deciles), File 6 (populations), File 7."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from thisineq.data.domains import (
    DOMAIN_KEYS,
    DOMAINS,
    LAD_CODE,
    LAD_NAME,
    LSOA_CODE,
    LSOA_CODE_PATTERN,
    LSOA_NAME,
    domain,
)
from thisineq.errors import ConfigError, ThisIneqError, UnknownKeyError
from thisineq.io import atomic_path

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet


class IoDFormatError(ThisIneqError, ValueError):
    """An IoD2019 file, or a table about to be written as one, is missing, unreadable or malformed."""


# Canonical column name -> official header, for the optional identifier columns.
IDENTIFIER_HEADERS: dict[str, str] = {
    "lsoa_name": LSOA_NAME,
    "lad_code": LAD_CODE,
    "lad_name": LAD_NAME,
}

# Canonical column name -> official header of the File 6 / File 7 population denominators.
POPULATION_HEADERS: dict[str, str] = {
    "population_total": "Total population: mid 2015 (excluding prisoners)",
    "population_children_0_15": "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "population_16_59": "Population aged 16-59: mid 2015 (excluding prisoners)",
    "population_60_plus": "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    "population_working_age": (
        "Working age population 18-59/64: for use with Employment Deprivation Domain (excluding prisoners)"
    ),
}

# The 20 headers of the official File 2, in the official order.
FILE2_HEADERS: tuple[str, ...] = (
    LSOA_CODE,
    LSOA_NAME,
    LAD_CODE,
    LAD_NAME,
    *(header for d in DOMAINS for header in (d.rank_header, d.decile_header)),
)

MAX_EXAMPLES = 5
_ZIP_MAGIC = b"PK\x03\x04"  # every xlsx is a zip archive
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and other OLE2 documents)
# An integer, optionally with thousands separators ("1,296") or a zero fraction ("3.0").
# Digits are capped so that every match fits in an int64.
_INTEGER_TEXT = r"[+-]?(?:\d{1,15}|\d{1,3}(?:,\d{3}){1,4})(?:\.0*)?"
_THOUSANDS_TEXT = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


@dataclass(frozen=True)
class _Cells:
    """A table as text: the header row and the data rows (columns numbered 0..n-1, stripped strings)."""

    source: str  # how messages name the table: usually the file path
    headers: list[str]
    body: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def read_iod(
    path: str | os.PathLike,
    *,
    domains: Iterable[str] = DOMAIN_KEYS,
    sheet: str | None = None,
) -> pd.DataFrame:
    """Read and validate an IoD2019 LSOA-level File 2 or File 7, as CSV or xlsx.

    Columns are found by their official headers, ignoring case and extra whitespace only;
    all other columns are ignored. Nothing is coerced: any bad value raises.

    Args:
        path: the CSV (UTF-8, with or without BOM) or the .xlsx workbook.
        domains: canonical domain keys to read (see `thisineq.data.domains.DOMAIN_KEYS`).
        sheet: xlsx sheet name; None picks the first sheet whose row 1 has the
            `LSOA code (2011)` header. Not allowed for CSV.

    Returns:
        DataFrame indexed by `lsoa_code` (sorted) with `lsoa_name, lad_code, lad_name`, then for
        each domain `{key}_decile` (int8), `{key}_rank` (int64, if the file has ranks) and
        `{key}_score` (float64, if the file has scores).

    Raises:
        IoDFormatError: the file is missing, unreadable or malformed; the message says which
            file and what is wrong.
    """
    return _parse_iod(_read_cells(Path(path), sheet), _domain_keys(domains))


def read_population(path: str | os.PathLike, *, sheet: str | None = None) -> pd.DataFrame:
    """Read and validate the IoD2019 population denominators from File 6 or File 7 (CSV or xlsx).

    Args:
        path: the CSV (values may carry thousands separators, e.g. "1,296") or the .xlsx workbook.
        sheet: xlsx sheet name; None picks the first sheet with the `LSOA code (2011)` header.

    Returns:
        DataFrame indexed by `lsoa_code` (sorted) with int64 columns `population_total,
        population_children_0_15, population_16_59, population_60_plus, population_working_age`.

    Raises:
        IoDFormatError: the file is missing, unreadable or malformed.
    """
    cells = _read_cells(Path(path), sheet)
    columns = _find_columns(cells, required=[LSOA_CODE, *POPULATION_HEADERS.values()], optional=[])
    codes = columns[LSOA_CODE]
    problems = _code_problems(codes)
    parsed: dict[str, pd.Series] = {}
    for key, header in POPULATION_HEADERS.items():
        values, value_problems = _parse_integers(columns[header], header, codes, low=0, high=None)
        problems += value_problems
        if values is not None:
            parsed[key] = values
    if not problems:
        problems += _population_sum_problems(parsed, codes)
    _raise_if(cells.source, problems)
    table = pd.DataFrame(parsed)
    table.index = pd.Index(codes.to_numpy(), dtype="str", name="lsoa_code")
    return table.sort_index()


def write_file2(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table in `read_iod`'s form as a CSV in the exact official File 2 layout.

    The file has the 20 official headers in order, UTF-8 with BOM and LF line endings, and rows
    sorted by LSOA code. Ranks come from `{key}_rank`; where that is absent they are computed
    from `{key}_score` (rank 1 = highest score, ties share the lowest rank). Ranks are never
    derived from deciles. Score columns themselves are not written (File 2 has none), so
    `read_iod` of the result equals `table` when `table` holds ranks and no scores.

    Args:
        table: indexed by `lsoa_code`, with `{key}_decile` and `{key}_rank` or `{key}_score`
            for all eight domains; `lsoa_name, lad_code, lad_name` are optional.
        path: the CSV to write; written atomically.

    Raises:
        IoDFormatError: the table lacks a column or holds a value that File 2 cannot carry.
    """
    path = Path(path)
    source = f"table given to write_file2 for {path}"
    text = _file2_text(table, source)
    # Validate exactly the cells about to be written, so the file is sure to read back.
    cells = _Cells(source, list(text.columns), text.set_axis(range(text.shape[1]), axis=1))
    _parse_iod(cells, DOMAIN_KEYS)
    with atomic_path(path) as tmp:
        text.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")


def decile_correlations(table: pd.DataFrame, domains: Iterable[str] = DOMAIN_KEYS) -> pd.DataFrame:
    """Pearson correlations between the domains' deciles.

    Args:
        table: a table from `read_iod` with the `{key}_decile` columns.
        domains: canonical domain keys to include, in the order wanted.

    Returns:
        Square DataFrame, rows and columns labelled by domain key.
    """
    keys = _domain_keys(domains)
    columns = [f"{key}_decile" for key in keys]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise UnknownKeyError(f"decile_correlations: table has no column(s) {', '.join(map(repr, missing))}")
    deciles = table[columns].astype("float64").set_axis(list(keys), axis=1)
    correlations = deciles.corr(method="pearson")
    correlations.index.name = correlations.columns.name = "domain"
    return correlations


# ---------------------------------------------------------------------------------------------
# Reading files as text
# ---------------------------------------------------------------------------------------------


def _read_cells(path: Path, sheet: str | None) -> _Cells:
    """Read a CSV or xlsx file as text cells, after checking it exists and is not empty.

    Args:
        path: the file.
        sheet: xlsx sheet name, or None.

    Returns:
        The header row and the non-empty data rows.
    """
    head = _first_bytes(path)
    if head.startswith(_ZIP_MAGIC):
        headers, rows = _read_xlsx_rows(path, sheet)
    elif head.startswith(_OLE_MAGIC) or path.suffix.lower() == ".xls":
        raise IoDFormatError(f"{path}: legacy Excel .xls workbooks are not supported; save it as .xlsx or CSV")
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        raise IoDFormatError(f"{path}: named like an xlsx workbook but is not one (it is not a zip archive)")
    elif b"\x00" in head:
        raise IoDFormatError(f"{path}: contains NUL bytes, so it is binary or UTF-16 text, not a UTF-8 CSV or an xlsx workbook")
    else:
        if sheet is not None:
            raise ConfigError(f"{path}: sheet={sheet!r} applies to xlsx workbooks only, and this is a CSV")
        headers, rows = _read_csv_rows(path)
    rows = rows.fillna("").astype("str")
    rows = rows[(rows != "").any(axis=1)].reset_index(drop=True)
    if rows.empty:
        raise IoDFormatError(f"{path}: has a header row but no data rows")
    return _Cells(str(path), headers, rows)


def _first_bytes(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a file, after checking it exists, is a file and is not empty."""
    if not path.exists():
        raise IoDFormatError(f"{path}: file not found")
    if not path.is_file():
        raise IoDFormatError(f"{path}: not a file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(size)
    except OSError as exc:
        raise IoDFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise IoDFormatError(f"{path}: file is empty (0 bytes)")
    return head


def _read_csv_rows(path: Path) -> tuple[list[str], pd.DataFrame]:
    """The header row and data rows of a UTF-8 CSV (BOM optional), all as text."""
    try:
        # header=None keeps duplicated headers as they are, instead of pandas renaming them.
        frame = pd.read_csv(
            path,
            header=None,
            dtype=str,
            encoding="utf-8-sig",
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
        )
    except UnicodeDecodeError as exc:
        raise IoDFormatError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}), so not a CSV this reader accepts; "
            "re-save it as 'CSV UTF-8'"
        ) from None
    except pd.errors.EmptyDataError:
        raise IoDFormatError(f"{path}: file is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise IoDFormatError(f"{path}: not a well-formed CSV ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise IoDFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    headers = [str(h) for h in frame.iloc[0]]
    return headers, frame.iloc[1:].set_axis(range(frame.shape[1]), axis=1)


def _read_xlsx_rows(path: Path, sheet: str | None) -> tuple[list[str], pd.DataFrame]:
    """The header row (row 1) and data rows of one sheet of an xlsx workbook, all as text."""
    # Imported here because only xlsx input needs openpyxl.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise IoDFormatError(f"{path}: not a readable xlsx workbook ({exc})") from None
    try:
        worksheet = _pick_sheet(workbook, path, sheet)
        rows = [[_cell_text(value) for value in row] for row in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    if not rows:
        raise IoDFormatError(f"{path}: sheet {worksheet.title!r} is empty")
    # Rows of a sheet need not all be as wide as its header row.
    width = max(len(row) for row in rows)
    headers = rows[0] + [""] * (width - len(rows[0]))
    return headers, pd.DataFrame(rows[1:], columns=range(width), dtype="str")


def _pick_sheet(workbook: Workbook, path: Path, sheet: str | None) -> ReadOnlyWorksheet:
    """The named sheet, or the first one whose row 1 holds the LSOA code header."""
    names = ", ".join(repr(name) for name in workbook.sheetnames)
    if sheet is not None:
        if sheet not in workbook.sheetnames:
            raise IoDFormatError(f"{path}: no sheet named {sheet!r}; the workbook has {names}")
        return workbook[sheet]
    for worksheet in workbook.worksheets:
        first_row = next(worksheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        if _normalise(LSOA_CODE) in {_normalise(_cell_text(value)) for value in first_row}:
            return worksheet
    raise IoDFormatError(f"{path}: no sheet has the header {LSOA_CODE!r} in row 1 (sheets: {names})")


def _cell_text(value: object) -> str:
    """An xlsx cell value as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


# ---------------------------------------------------------------------------------------------
# Validating and converting text cells
# ---------------------------------------------------------------------------------------------


def _parse_iod(cells: _Cells, keys: tuple[str, ...]) -> pd.DataFrame:
    """Validate File 2 / File 7 cells and convert them to the canonical table (see `read_iod`)."""
    wanted = [domain(key) for key in keys]
    required = [LSOA_CODE, *(d.decile_header for d in wanted)]
    optional = [
        *IDENTIFIER_HEADERS.values(),
        *(d.rank_header for d in wanted),
        *(d.score_header for d in wanted),
    ]
    columns = _find_columns(cells, required=required, optional=optional)
    codes = columns[LSOA_CODE]
    problems = _code_problems(codes)
    table = {key: _text_or_na(columns.get(header), codes.index) for key, header in IDENTIFIER_HEADERS.items()}
    for d in wanted:
        deciles, decile_problems = _parse_integers(columns[d.decile_header], d.decile_header, codes, low=1, high=10)
        problems += decile_problems
        if deciles is not None:
            table[f"{d.key}_decile"] = deciles.astype("int8")
        if d.rank_header in columns:
            ranks, rank_problems = _parse_integers(columns[d.rank_header], d.rank_header, codes, low=1, high=None)
            problems += rank_problems
            if ranks is not None:
                table[f"{d.key}_rank"] = ranks
        if d.score_header in columns:
            scores, score_problems = _parse_floats(columns[d.score_header], d.score_header, codes)
            problems += score_problems
            if scores is not None:
                table[f"{d.key}_score"] = scores
    _raise_if(cells.source, problems)
    result = pd.DataFrame(table)
    result.index = pd.Index(codes.to_numpy(), dtype="str", name="lsoa_code")
    return result.sort_index()


def _normalise(header: str) -> str:
    """A header compared ignoring case and surrounding or repeated whitespace."""
    return " ".join(header.split()).casefold()


def _find_columns(cells: _Cells, *, required: list[str], optional: list[str]) -> dict[str, pd.Series]:
    """The text of each wanted column that is present, keyed by official header.

    Raises:
        IoDFormatError: a required header is absent (all absent ones are listed), or a wanted
            header occurs more than once.
    """
    positions: dict[str, list[int]] = {}
    for position, header in enumerate(cells.headers):
        positions.setdefault(_normalise(header), []).append(position)
    missing = [header for header in required if _normalise(header) not in positions]
    if missing:
        found = ", ".join(repr(h) for h in cells.headers[:MAX_EXAMPLES])
        more = f" and {len(cells.headers) - MAX_EXAMPLES} more" if len(cells.headers) > MAX_EXAMPLES else ""
        listed = "; ".join(repr(header) for header in missing)
        raise IoDFormatError(
            f"{cells.source}: missing {len(missing)} required column(s), expected the official IoD2019 "
            f"header(s): {listed}. The header row has {found}{more}"
        )
    repeated = [h for h in (*required, *optional) if len(positions.get(_normalise(h), [])) > 1]
    if repeated:
        raise IoDFormatError(f"{cells.source}: ambiguous header(s), each found more than once: {'; '.join(map(repr, repeated))}")
    return {
        header: cells.body[positions[_normalise(header)][0]].str.strip()
        for header in (*required, *optional)
        if _normalise(header) in positions
    }


def _code_problems(codes: pd.Series) -> list[str]:
    """Problems with the LSOA code column: blanks, malformed codes, duplicates."""
    problems = []
    blank = codes == ""
    if blank.any():
        problems.append(_describe(LSOA_CODE, "missing value(s)", blank, codes))
    malformed = ~blank & ~codes.str.fullmatch(LSOA_CODE_PATTERN)
    if malformed.any():
        problems.append(
            _describe(
                LSOA_CODE,
                "code(s) that are not LSOA codes (E01 + 6 digits for real areas, X01 + 6 digits for synthetic)",
                malformed,
                codes,
            )
        )
    repeated = ~blank & codes.duplicated(keep=False)
    if repeated.any():
        examples = ", ".join(repr(code) for code in codes[repeated].unique()[:MAX_EXAMPLES])
        problems.append(f"column {LSOA_CODE!r}: {codes[repeated].nunique()} LSOA code(s) occur more than once, e.g. {examples}")
    return problems


def _parse_integers(
    text: pd.Series, header: str, codes: pd.Series, *, low: int, high: int | None
) -> tuple[pd.Series | None, list[str]]:
    """Parse a column of integers in [low, high] (high None: no upper bound).

    Returns:
        The int64 values (None if any problem) and the problems found.
    """
    blank = text == ""
    malformed = ~blank & ~text.str.fullmatch(_INTEGER_TEXT)
    problems = []
    if blank.any():
        problems.append(_describe(header, "missing value(s)", blank, codes))
    if malformed.any():
        problems.append(_describe(header, "value(s) that are not integers", malformed, codes, text))
    if problems:
        return None, problems
    digits = text.str.replace(",", "", regex=False).str.replace(r"\.0*$", "", regex=True)
    values = pd.Series(digits.map(int).to_numpy(dtype="int64"), index=text.index)
    outside = (values < low) | (values > high) if high is not None else values < low
    if outside.any():
        allowed = f"outside {low}-{high}" if high is not None else f"below {low}"
        problems.append(_describe(header, f"value(s) {allowed}", outside, codes, text))
        return None, problems
    return values, problems


def _parse_floats(text: pd.Series, header: str, codes: pd.Series) -> tuple[pd.Series | None, list[str]]:
    """Parse a column of finite numbers (scores).

    Returns:
        The float64 values (None if any problem) and the problems found.
    """
    blank = text == ""
    plain = text.where(~text.str.fullmatch(_THOUSANDS_TEXT), text.str.replace(",", "", regex=False))
    values = pd.to_numeric(plain.where(~blank, "0"), errors="coerce").astype("float64")
    malformed = ~blank & ~np.isfinite(values)
    problems = []
    if blank.any():
        problems.append(_describe(header, "missing value(s)", blank, codes))
    if malformed.any():
        problems.append(_describe(header, "value(s) that are not finite numbers", malformed, codes, text))
    return (None if problems else values), problems


def _population_sum_problems(parsed: dict[str, pd.Series], codes: pd.Series) -> list[str]:
    """File 6 splits the total population into three age bands; a mismatch means mixed-up columns."""
    bands = parsed["population_children_0_15"] + parsed["population_16_59"] + parsed["population_60_plus"]
    mismatch = bands != parsed["population_total"]
    if not mismatch.any():
        return []
    examples = ", ".join(
        f"{codes[i]} (bands {bands[i]} vs total {parsed['population_total'][i]})" for i in mismatch[mismatch].index[:MAX_EXAMPLES]
    )
    return [
        f"{mismatch.sum()} row(s) where the age bands 0-15, 16-59 and 60+ do not add up to "
        f"{POPULATION_HEADERS['population_total']!r}, e.g. {examples}"
    ]


def _describe(header: str, problem: str, mask: pd.Series, codes: pd.Series, values: pd.Series | None = None) -> str:
    """One problem line: the column, how many rows, and up to MAX_EXAMPLES example LSOAs and values."""
    examples = []
    for i in mask[mask].index[:MAX_EXAMPLES]:
        where = codes[i] or f"data row {i + 1}"
        examples.append(repr(where) if values is None else f"{where}={values[i]!r}")
    return f"column {header!r}: {int(mask.sum())} {problem}, e.g. {', '.join(examples)}"


def _text_or_na(text: pd.Series | None, index: pd.Index) -> pd.Series:
    """Text with empty cells as missing; all missing where the file lacks the column."""
    if text is None:
        return pd.Series(np.nan, index=index, dtype="str")
    return text.where(text != "").astype("str")


def _raise_if(source: str, problems: list[str]) -> None:
    """Raise one IoDFormatError listing every problem, if there are any."""
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise IoDFormatError(f"{source}: {len(problems)} problem(s):\n{listing}")


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _file2_text(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """The cells of the File 2 CSV for a canonical table, as text under the official headers."""
    if table.index.name != "lsoa_code":
        raise IoDFormatError(
            f"{source}: the index must be the LSOA codes, named 'lsoa_code' (as read_iod returns it); "
            f"it is named {table.index.name!r}"
        )
    table = table.sort_index()
    text = {LSOA_CODE: pd.Series(table.index.astype("str"), index=table.index)}
    for key, header in IDENTIFIER_HEADERS.items():
        text[header] = _as_text(table[key]) if key in table.columns else pd.Series("", index=table.index)
    for d in DOMAINS:
        text[d.rank_header] = _as_text(_ranks(table, d.key, source))
        if f"{d.key}_decile" not in table.columns:
            raise IoDFormatError(f"{source}: no '{d.key}_decile' column; File 2 needs deciles for all 8 domains")
        text[d.decile_header] = _as_text(table[f"{d.key}_decile"])
    return pd.DataFrame(text).reset_index(drop=True)


def _ranks(table: pd.DataFrame, key: str, source: str) -> pd.Series:
    """A domain's ranks: the table's own, else computed from its scores (1 = highest score)."""
    if f"{key}_rank" in table.columns:
        return table[f"{key}_rank"]
    if f"{key}_score" not in table.columns:
        raise IoDFormatError(
            f"{source}: domain {key!r} has neither '{key}_rank' nor '{key}_score'; File 2 needs ranks, "
            "and they cannot be derived from deciles"
        )
    scores = table[f"{key}_score"]
    if scores.isna().any():
        raise IoDFormatError(
            f"{source}: cannot rank '{key}_score': {int(scores.isna().sum())} missing value(s), "
            f"e.g. {', '.join(map(repr, scores[scores.isna()].index[:MAX_EXAMPLES]))}"
        )
    # Official ties share the lowest rank, as in the IoD2019 files.
    return scores.rank(ascending=False, method="min")


def _as_text(values: pd.Series) -> pd.Series:
    """Values as CSV text: missing as empty, whole floats without '.0'."""

    def one(value: object) -> str:
        if pd.isna(value):
            return ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return values.map(one).astype("str")


def _domain_keys(domains: Iterable[str]) -> tuple[str, ...]:
    """Validated domain keys, duplicates dropped, order kept."""
    if isinstance(domains, str):
        domains = (domains,)
    keys = tuple(dict.fromkeys(domains))
    if not keys:
        raise ConfigError("no domains requested; pass at least one of " + ", ".join(DOMAIN_KEYS))
    for key in keys:
        domain(key)
    return keys
