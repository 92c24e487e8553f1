"""Tests for thisineq.data.imd: reading, validating and writing the IoD2019 tables."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from thisineq.data.domains import BY_KEY, DOMAIN_KEYS, LSOA_CODE
from thisineq.data.imd import (
    IoDFormatError,
    decile_correlations,
    read_iod,
    read_population,
    write_file2,
)
from thisineq.errors import ConfigError

# The official File 2 headers, copied from PROVENANCE.md rather than built from domains.py,
# so that the tests check the module against an independent statement of the layout.
OFFICIAL_FILE2_HEADERS = [
    "LSOA code (2011)",
    "LSOA name (2011)",
    "Local Authority District code (2019)",
    "Local Authority District name (2019)",
    "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
    "Income Rank (where 1 is most deprived)",
    "Income Decile (where 1 is most deprived 10% of LSOAs)",
    "Employment Rank (where 1 is most deprived)",
    "Employment Decile (where 1 is most deprived 10% of LSOAs)",
    "Education, Skills and Training Rank (where 1 is most deprived)",
    "Education, Skills and Training Decile (where 1 is most deprived 10% of LSOAs)",
    "Health Deprivation and Disability Rank (where 1 is most deprived)",
    "Health Deprivation and Disability Decile (where 1 is most deprived 10% of LSOAs)",
    "Crime Rank (where 1 is most deprived)",
    "Crime Decile (where 1 is most deprived 10% of LSOAs)",
    "Barriers to Housing and Services Rank (where 1 is most deprived)",
    "Barriers to Housing and Services Decile (where 1 is most deprived 10% of LSOAs)",
    "Living Environment Rank (where 1 is most deprived)",
    "Living Environment Decile (where 1 is most deprived 10% of LSOAs)",
]
OFFICIAL_FILE6_HEADERS = [
    "LSOA code (2011)",
    "LSOA name (2011)",
    "Local Authority District code (2019)",
    "Local Authority District name (2019)",
    "Total population: mid 2015 (excluding prisoners)",
    "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "Population aged 16-59: mid 2015 (excluding prisoners)",
    "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    "Working age population 18-59/64: for use with Employment Deprivation Domain (excluding prisoners)",
]
INCOME_DECILE = "Income Decile (where 1 is most deprived 10% of LSOAs)"
INCOME_RANK = "Income Rank (where 1 is most deprived)"
HEALTH_DECILE = "Health Deprivation and Disability Decile (where 1 is most deprived 10% of LSOAs)"
CANONICAL_COLUMNS = ["lsoa_name", "lad_code", "lad_name"] + [
    f"{key}_{kind}" for key in DOMAIN_KEYS for kind in ("decile", "rank")
]


# --- helpers -----------------------------------------------------------------------------------


def read_rows(path: Path) -> list[list[str]]:
    """A CSV's rows, read by the csv module (independently of the module under test)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    """Write rows as an official-style CSV: UTF-8 with BOM, LF line endings."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def toy_table(n: int = 30, seed: int = 0) -> pd.DataFrame:
    """A hand-made canonical table with synthetic X01 codes, so tests run without ../shared."""
    rng = np.random.default_rng(seed)
    codes = [f"X01{i:06d}" for i in range(1, n + 1)]
    lad_codes = ["E09000001" if i % 3 else "X09000001" for i in range(n)]
    columns: dict[str, object] = {
        "lsoa_name": [f"Toytown {i // 4:03d}{'ABCD'[i % 4]}" for i in range(n)],
        "lad_code": lad_codes,
        "lad_name": ["Bristol, City of" if c.startswith("E") else "Toytown" for c in lad_codes],
    }
    for key in DOMAIN_KEYS:
        ranks = pd.Series(rng.permutation(n) + 1)
        columns[f"{key}_decile"] = np.ceil(ranks * 10 / n).astype("int8").to_numpy()
        columns[f"{key}_rank"] = ranks.astype("int64").to_numpy()
    table = pd.DataFrame(columns, index=pd.Index(codes, dtype="str", name="lsoa_code"))
    return table.astype({"lsoa_name": "str", "lad_code": "str", "lad_name": "str"})


def column_of(rows: list[list[str]], header: str) -> int:
    return rows[0].index(header)


def error_for(path: Path, reader=read_iod, **kwargs) -> str:
    """The message of the IoDFormatError that reading `path` raises."""
    with pytest.raises(IoDFormatError) as caught:
        reader(path, **kwargs)
    return str(caught.value)


@pytest.fixture(params=["toy", "london"])
def file2_csv(request, tmp_path) -> Path:
    """A small File 2 CSV: hand-made (always), or the first 40 rows of the real London file."""
    path = tmp_path / "File_2_subset.csv"
    if request.param == "toy":
        write_file2(toy_table(), path)
    else:
        files = request.getfixturevalue("london")
        write_rows(path, read_rows(files.file2_london)[:41])
    return path


@pytest.fixture(scope="module")
def london_table(london) -> pd.DataFrame:
    return read_iod(london.file2_london)


@pytest.fixture(scope="module")
def england_table(london) -> pd.DataFrame:
    return read_iod(london.file2_england)


# --- the real files ----------------------------------------------------------------------------


def test_london_file2_parses(london_table):
    assert len(london_table) == 4835
    assert london_table.index.name == "lsoa_code"
    assert london_table.index.is_unique and london_table.index.is_monotonic_increasing
    assert list(london_table.columns) == CANONICAL_COLUMNS
    assert london_table["lad_code"].str.startswith("E09").all()
    assert london_table["lad_code"].nunique() == 33
    for key in DOMAIN_KEYS:
        assert london_table[f"{key}_decile"].dtype == np.int8
        assert london_table[f"{key}_rank"].dtype == np.int64
        assert london_table[f"{key}_decile"].between(1, 10).all()
        assert london_table[f"{key}_rank"].between(1, 32844).all()


def test_england_file2_and_its_london_subset(england_table, london_table):
    assert len(england_table) == 32844
    assert england_table.index.is_unique
    assert england_table.notna().all().all()
    for key in DOMAIN_KEYS:
        assert set(england_table[f"{key}_decile"]) == set(range(1, 11))
    subset = england_table[england_table["lad_code"].str.startswith("E09")]  # the London boroughs
    assert list(subset.index) == list(london_table.index)
    pd.testing.assert_frame_equal(subset, london_table)


def test_spot_check_against_csv_module(london, london_table):
    rows = read_rows(london.file2_london)
    assert rows[0] == OFFICIAL_FILE2_HEADERS
    for row in (rows[1], rows[1235], rows[2718], rows[-1]):
        parsed = london_table.loc[row[0]]
        assert (parsed["lsoa_name"], parsed["lad_code"], parsed["lad_name"]) == tuple(row[1:4])
        for i, key in enumerate(DOMAIN_KEYS):
            assert parsed[f"{key}_rank"] == int(row[4 + 2 * i])
            assert parsed[f"{key}_decile"] == int(row[5 + 2 * i])
    # Literal values from the first data line of the file.
    first = london_table.loc["E01000001"]
    assert (first["imd_rank"], first["imd_decile"]) == (29199, 9)
    assert (first["living_environment_rank"], first["living_environment_decile"]) == (7789, 3)


def test_file6_parses_thousands_separators(london, london_table):
    assert '"1,296"' in london.file6_london.read_text(encoding="utf-8-sig").splitlines()[1]
    population = read_population(london.file6_london)
    assert list(population.columns) == [
        "population_total",
        "population_children_0_15",
        "population_16_59",
        "population_60_plus",
        "population_working_age",
    ]
    assert (population.dtypes == np.int64).all()
    assert population.loc["E01000001"].tolist() == [1296, 175, 656, 465, 715]
    assert population["population_total"].sum() == 8_662_622
    assert list(population.index) == list(london_table.index)
    england = read_population(london.file6_england)
    assert len(england) == 32844
    pd.testing.assert_frame_equal(england.loc[population.index], population)


def test_write_file2_reproduces_the_real_london_file(london, london_table, tmp_path):
    out = tmp_path / "london.csv"
    write_file2(london_table, out)
    # The source copy has CRLF line endings; File 2 as written here has LF, as specified.
    assert out.read_bytes() == london.file2_london.read_bytes().replace(b"\r\n", b"\n")
    pd.testing.assert_frame_equal(read_iod(out), london_table)


def test_decile_correlations_on_london(london_table):
    correlations = decile_correlations(london_table)
    assert list(correlations.index) == list(DOMAIN_KEYS) == list(correlations.columns)
    assert correlations.loc["income", "employment"] > 0.9
    assert correlations.loc["imd", "income"] > correlations.loc["imd", "living_environment"]
    assert np.allclose(correlations.to_numpy(), correlations.to_numpy().T)


# --- xlsx ------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list[str]], sheet: str = "IoD2019 Domains", notes_first: bool = True) -> Path:
    """Write CSV rows into an xlsx sheet (headers on row 1), numbers as numbers, like the official workbook."""
    workbook = openpyxl.Workbook()
    if notes_first:
        workbook.active.title = "Notes"
        workbook.active.append(["English Indices of Deprivation 2019"])
        worksheet = workbook.create_sheet(sheet)
    else:
        worksheet = workbook.active
        worksheet.title = sheet
    worksheet.append(rows[0])
    for row in rows[1:]:
        worksheet.append([int(v.replace(",", "")) if v.replace(",", "").isdigit() else v for v in row])
    workbook.save(path)
    return path


def test_xlsx_reads_like_csv(file2_csv, tmp_path):
    xlsx = write_xlsx(tmp_path / "File_2.xlsx", read_rows(file2_csv))
    expected = read_iod(file2_csv)
    pd.testing.assert_frame_equal(read_iod(xlsx), expected)
    pd.testing.assert_frame_equal(read_iod(xlsx, sheet="IoD2019 Domains"), expected)


def test_xlsx_sheet_errors(file2_csv, tmp_path):
    xlsx = write_xlsx(tmp_path / "File_2.xlsx", read_rows(file2_csv))
    message = error_for(xlsx, sheet="Domains")
    assert "no sheet named 'Domains'" in message and "'IoD2019 Domains'" in message and str(xlsx) in message
    notes_only = openpyxl.Workbook()
    notes_only.active.append(["just notes"])
    notes_only.save(tmp_path / "notes.xlsx")
    assert f"no sheet has the header {LSOA_CODE!r}" in error_for(tmp_path / "notes.xlsx")


def test_population_xlsx_reads_like_csv(tmp_path):
    csv_path = write_rows(tmp_path / "File_6.csv", toy_file6_rows())
    xlsx = write_xlsx(tmp_path / "File_6.xlsx", toy_file6_rows(), sheet="Population Denominators", notes_first=False)
    pd.testing.assert_frame_equal(read_population(xlsx), read_population(csv_path))


# --- malformed File 2 ----------------------------------------------------------------------------


def test_missing_decile_columns_are_all_named(file2_csv):
    rows = read_rows(file2_csv)
    drop = {column_of(rows, INCOME_DECILE), column_of(rows, HEALTH_DECILE)}
    write_rows(file2_csv, [[v for i, v in enumerate(row) if i not in drop] for row in rows])
    message = error_for(file2_csv)
    assert str(file2_csv) in message
    assert "missing 2 required column(s)" in message
    assert repr(INCOME_DECILE) in message and repr(HEALTH_DECILE) in message


def test_decile_out_of_range_names_column_and_code(file2_csv):
    rows = read_rows(file2_csv)
    rows[3][column_of(rows, INCOME_DECILE)] = "11"
    rows[5][column_of(rows, INCOME_DECILE)] = "0"
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert file2_csv.name in message
    assert repr(INCOME_DECILE) in message
    assert "2 value(s) outside 1-10" in message
    assert f"{rows[3][0]}='11'" in message and f"{rows[5][0]}='0'" in message


@pytest.mark.parametrize("bad", ["3.5", "x", "1e1", "ten"])
def test_decile_not_an_integer(file2_csv, bad):
    rows = read_rows(file2_csv)
    rows[2][column_of(rows, INCOME_DECILE)] = bad
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert "not integers" in message and f"{rows[2][0]}={bad!r}" in message


def test_missing_decile_value(file2_csv):
    rows = read_rows(file2_csv)
    rows[4][column_of(rows, INCOME_DECILE)] = ""
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert repr(INCOME_DECILE) in message and "1 missing value(s)" in message and rows[4][0] in message


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_rank_not_positive(file2_csv, bad):
    rows = read_rows(file2_csv)
    rows[6][column_of(rows, INCOME_RANK)] = bad
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert repr(INCOME_RANK) in message and "below 1" in message and f"{rows[6][0]}={bad!r}" in message


def test_duplicated_code_is_named(file2_csv):
    rows = read_rows(file2_csv)
    rows[7][0] = rows[2][0]
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert "occur more than once" in message and repr(rows[2][0]) in message


@pytest.mark.parametrize("bad", ["W01000001", "e01000001", "E0100001", "S01006506", "E02000001"])
def test_non_lsoa_code_is_named(file2_csv, bad):
    rows = read_rows(file2_csv)
    rows[3][0] = bad
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert "not LSOA codes" in message and repr(bad) in message


def test_blank_code(file2_csv):
    rows = read_rows(file2_csv)
    rows[3][0] = ""
    write_rows(file2_csv, rows)
    assert "1 missing value(s)" in error_for(file2_csv)


def test_every_problem_is_reported_at_once(file2_csv):
    rows = read_rows(file2_csv)
    rows[3][column_of(rows, INCOME_DECILE)] = "11"
    rows[8][0] = rows[9][0]
    write_rows(file2_csv, rows)
    message = error_for(file2_csv)
    assert "2 problem(s)" in message and "outside 1-10" in message and "more than once" in message


def test_headers_match_ignoring_case_and_whitespace_only(file2_csv):
    rows = read_rows(file2_csv)
    expected = read_iod(file2_csv)
    rows[0] = ["  " + header.upper().replace(" ", "   ") + " " for header in rows[0]]
    write_rows(file2_csv, rows)
    pd.testing.assert_frame_equal(read_iod(file2_csv), expected)
    rows[0][column_of(rows, rows[0][7])] = "Income Decile"
    write_rows(file2_csv, rows)
    assert repr(INCOME_DECILE) in error_for(file2_csv)


def test_duplicated_header_is_ambiguous(file2_csv):
    rows = read_rows(file2_csv)
    position = column_of(rows, INCOME_DECILE)
    write_rows(file2_csv, [row + [row[position]] for row in rows])
    assert "ambiguous" in error_for(file2_csv)


def test_domain_subset_and_unknown_domain(file2_csv):
    table = read_iod(file2_csv, domains=("health", "income"))
    assert list(table.columns) == [
        "lsoa_name",
        "lad_code",
        "lad_name",
        "health_decile",
        "health_rank",
        "income_decile",
        "income_rank",
    ]
    # A file without the other domains' columns still reads for the domains it has.
    rows = read_rows(file2_csv)
    keep = [column_of(rows, header) for header in (LSOA_CODE, INCOME_DECILE)]
    write_rows(file2_csv, [[row[i] for i in keep] for row in rows])
    only = read_iod(file2_csv, domains="income")
    assert list(only.columns) == ["lsoa_name", "lad_code", "lad_name", "income_decile"]
    assert only["lad_name"].isna().all()
    with pytest.raises(KeyError, match="unknown IoD2019 domain") as error:
        read_iod(file2_csv, domains=("wealth",))
    assert isinstance(error.value, ConfigError) and str(error.value).startswith("unknown IoD2019 domain 'wealth'")


# --- files that are not File 2 at all -----------------------------------------------------------


def test_missing_file(tmp_path):
    assert "file not found" in error_for(tmp_path / "nowhere.csv")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", "\ufeff".encode()])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    message = error_for(path)
    assert str(path) in message and "empty" in message


def test_header_only(tmp_path):
    path = write_rows(tmp_path / "header.csv", [OFFICIAL_FILE2_HEADERS])
    assert "no data rows" in error_for(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("These are my notes.\nThey are prose, though they have a comma, or two.\n", "not a well-formed CSV"),
        ("Shopping list\neggs\nflour\n", "missing 9 required column(s)"),
    ],
)
def test_text_file_that_is_not_a_csv(tmp_path, text, expected):
    path = tmp_path / "notes.txt"
    path.write_text(text, encoding="utf-8")
    message = error_for(path)
    assert str(path) in message and expected in message


def test_binary_and_fake_workbooks(tmp_path):
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "NUL bytes" in error_for(binary)
    fake = tmp_path / "File_2.xlsx"
    fake.write_text("LSOA code (2011)\nE01000001\n")
    assert "not one" in error_for(fake)
    archive = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("hello.txt", "hello")
    assert "not a readable xlsx workbook" in error_for(archive)
    legacy = tmp_path / "File_2.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32)
    assert "legacy Excel .xls" in error_for(legacy)


def test_not_utf8_and_ragged(tmp_path):
    latin1 = tmp_path / "latin1.csv"
    header = ",".join(OFFICIAL_FILE2_HEADERS[:2]).encode()
    latin1.write_bytes(header + "\nE01000001,Caf\xe9 001A\n".encode("latin-1"))
    assert "not UTF-8" in error_for(latin1)
    ragged = write_rows(tmp_path / "ragged.csv", [OFFICIAL_FILE2_HEADERS[:3], ["E01000001", "a", "b", "c"]])
    assert "not a well-formed CSV" in error_for(ragged)


def test_sheet_is_refused_for_csv(file2_csv):
    with pytest.raises(ValueError, match="xlsx workbooks only"):
        read_iod(file2_csv, sheet="IoD2019 Domains")


# --- File 7 style --------------------------------------------------------------------------------


def file7_rows(file2_rows: list[list[str]], seed: int = 1) -> tuple[list[list[str]], dict[str, list[float]]]:
    """File 7-like rows: score, rank and decile per domain, extra indices and populations, in File 7 order."""
    rng = np.random.default_rng(seed)
    n = len(file2_rows) - 1
    header = file2_rows[0][:4]
    body = [row[:4] for row in file2_rows[1:]]
    scores = {}
    for i, key in enumerate(DOMAIN_KEYS):
        d = BY_KEY[key]
        scores[key] = list(np.round(rng.random(n) * 80, 3))
        header += [d.score_header, d.rank_header, d.decile_header]
        for row, source, score in zip(body, file2_rows[1:], scores[key], strict=True):
            row += [repr(float(score)), source[4 + 2 * i], source[5 + 2 * i]]
    header += [
        "Income Deprivation Affecting Children Index (IDACI) Score (rate)",
        "Children and Young People Sub-domain Score",
        "Notes",
        "Notes",
        *OFFICIAL_FILE6_HEADERS[4:],
    ]
    for row in body:
        row += ["0.123", "-0.5", "", "x", "1,296", "175", "656", "465", "715"]
    return [header, *body], scores


def test_file7_style_csv_with_scores_and_extra_columns(file2_csv, tmp_path):
    rows, scores = file7_rows(read_rows(file2_csv))
    path = write_rows(tmp_path / "File_7.csv", rows)
    table = read_iod(path)
    expected_columns = ["lsoa_name", "lad_code", "lad_name"] + [
        f"{key}_{kind}" for key in DOMAIN_KEYS for kind in ("decile", "rank", "score")
    ]
    assert list(table.columns) == expected_columns
    file2 = read_iod(file2_csv)
    pd.testing.assert_frame_equal(table[file2.columns], file2)
    codes = [row[0] for row in rows[1:]]
    for key in DOMAIN_KEYS:
        assert table[f"{key}_score"].dtype == np.float64
        assert np.allclose(table.loc[codes, f"{key}_score"], scores[key])
    population = read_population(path)
    assert (population["population_total"] == 1296).all()


def test_file7_bad_score(file2_csv, tmp_path):
    rows, _ = file7_rows(read_rows(file2_csv))
    header = BY_KEY["income"].score_header
    rows[3][rows[0].index(header)] = "n/a"
    message = error_for(write_rows(tmp_path / "File_7.csv", rows))
    assert repr(header) in message and "not finite numbers" in message and f"{rows[3][0]}='n/a'" in message


# --- File 6 --------------------------------------------------------------------------------------


def toy_file6_rows() -> list[list[str]]:
    return [
        OFFICIAL_FILE6_HEADERS,
        ["X01000002", "Toytown 001B", "X09000001", "Toytown", "1,156", "182", "580", "394", "620"],
        ["X01000001", "Toytown 001A", "X09000001", "Toytown", "1,296", "175", "656", "465", "715"],
        ["X01000003", "Toytown 001C", "X09000001", "Toytown", "523", "17", "491", "15", "329"],
    ]


def test_toy_file6(tmp_path):
    population = read_population(write_rows(tmp_path / "File_6.csv", toy_file6_rows()))
    assert list(population.index) == ["X01000001", "X01000002", "X01000003"]
    assert population["population_total"].tolist() == [1296, 1156, 523]


@pytest.mark.parametrize(
    ("column", "bad", "expected"),
    [
        (4, "1,29", "not integers"),
        (5, "-1", "below 0"),
        (6, "", "missing value"),
        (5, "176", "do not add up"),
    ],
)
def test_file6_bad_values(tmp_path, column, bad, expected):
    rows = toy_file6_rows()
    rows[2][column] = bad
    message = error_for(write_rows(tmp_path / "File_6.csv", rows), reader=read_population)
    assert expected in message and "X01000001" in message and "File_6.csv" in message


def test_file6_missing_column(tmp_path):
    rows = [row[:-1] for row in toy_file6_rows()]
    message = error_for(write_rows(tmp_path / "File_6.csv", rows), reader=read_population)
    assert repr(OFFICIAL_FILE6_HEADERS[-1]) in message


# --- writing ------------------------------------------------------------------------------------


def test_write_file2_round_trip_and_layout(tmp_path):
    table = toy_table()
    out = tmp_path / "city" / "File_2.csv"
    write_file2(table, out)
    pd.testing.assert_frame_equal(read_iod(out), table)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw and raw.endswith(b"\n")
    rows = read_rows(out)
    assert rows[0] == OFFICIAL_FILE2_HEADERS
    assert [row[0] for row in rows[1:]] == sorted(table.index)
    assert '"Bristol, City of"' in raw.decode("utf-8-sig")
    assert list(tmp_path.joinpath("city").iterdir()) == [out]  # no temporary file left behind


def test_write_file2_ranks_from_scores(tmp_path):
    table = toy_table(n=12).drop(columns=[f"{key}_rank" for key in DOMAIN_KEYS])
    for key in DOMAIN_KEYS:
        table[f"{key}_score"] = np.linspace(1.0, 12.0, 12)
    table.loc[table.index[:2], "income_score"] = 50.0  # a tie for most deprived
    out = tmp_path / "File_2.csv"
    write_file2(table, out)
    back = read_iod(out)
    assert "income_score" not in back.columns
    assert back["imd_rank"].tolist() == list(range(12, 0, -1))
    assert back["income_rank"].tolist()[:3] == [1, 1, 12]
    pd.testing.assert_series_equal(back["income_decile"], table["income_decile"])


def test_write_file2_refuses_tables_it_cannot_write(tmp_path):
    out = tmp_path / "File_2.csv"
    with pytest.raises(IoDFormatError, match="'income_rank' nor 'income_score'"):
        write_file2(toy_table().drop(columns="income_rank"), out)
    with pytest.raises(IoDFormatError, match="no 'crime_decile' column"):
        write_file2(toy_table().drop(columns="crime_decile"), out)
    bad = toy_table()
    bad.loc["X01000004", "income_decile"] = 11
    with pytest.raises(IoDFormatError, match=r"X01000004='11'"):
        write_file2(bad, out)
    with pytest.raises(IoDFormatError, match="named 'lsoa_code'"):
        write_file2(toy_table().reset_index(), out)
    assert not out.exists()


def test_write_file2_keeps_missing_names(tmp_path):
    table = toy_table()
    table.loc["X01000002", "lsoa_name"] = np.nan
    out = tmp_path / "File_2.csv"
    write_file2(table, out)
    pd.testing.assert_frame_equal(read_iod(out), table)


# --- decile_correlations() ---------------------------------------------------------


def test_decile_correlations():
    table = toy_table(n=200)
    correlations = decile_correlations(table, domains=("income", "health", "crime"))
    assert list(correlations.index) == ["income", "health", "crime"] == list(correlations.columns)
    assert np.allclose(np.diag(correlations), 1.0)
    expected = np.corrcoef(table["income_decile"], table["crime_decile"])[0, 1]
    assert correlations.loc["income", "crime"] == pytest.approx(expected)
    assert correlations.loc["crime", "income"] == pytest.approx(expected)
    with pytest.raises(KeyError, match="income_decile"):
        decile_correlations(table.drop(columns="income_decile"))
