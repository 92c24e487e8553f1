"""Download the official IoD2019 File 2 and File 6 workbooks from gov.uk and check that they parse."""

from __future__ import annotations

import argparse
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from thisineq.data.imd import IoDFormatError, read_iod, read_population
from thisineq.io import atomic_path

PUBLICATION = "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2019"
ASSETS = "https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/file"
FILE2_URL = f"{ASSETS}/833973/File_2_-_IoD2019_Domains_of_Deprivation.xlsx"
FILE6_URL = f"{ASSETS}/833980/File_6_-_IoD2019_Population_Denominators.xlsx"
USER_AGENT = "thisineq-download-iod2019/0.1 (+urllib)"


def file_name(url: str) -> str:
    """The file name a URL points at, e.g. 'File_2_-_IoD2019_Domains_of_Deprivation.xlsx'.

    Args:
        url: an http(s) URL whose path ends in a file name.

    Returns:
        The last path segment, percent-decoded.
    """
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not name:
        raise ValueError(f"cannot tell a file name from the URL {url!r}")
    return name


def download(url: str, dest: Path, *, timeout: float) -> None:
    """Download `url` to `dest`, atomically: `dest` appears complete or not at all.

    Args:
        url: what to fetch.
        dest: where to write it.
        timeout: seconds to wait for the server before giving up.

    Raises:
        urllib.error.URLError, TimeoutError, OSError: the download failed.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, atomic_path(dest) as tmp:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)


def network_reason(exc: BaseException) -> str:
    """A one-line reason for a failed download."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    return str(exc) or type(exc).__name__


def verify(path: Path, *, expect: str | None) -> str:
    """Check that a downloaded file parses, and describe what it holds.

    Args:
        path: the downloaded file.
        expect: "iod" or "population" for files that must parse as such; None to try both.

    Returns:
        A short description of what parsed.

    Raises:
        IoDFormatError: the file does not parse as expected (or, with expect None, as either).
    """
    found = []
    errors = []
    if expect in (None, "iod"):
        try:
            table = read_iod(path)
            scores = sum(column.endswith("_score") for column in table.columns)
            with_scores = f", with {scores} score columns" if scores else ""
            found.append(f"ranks and deciles for {len(table):,} LSOAs{with_scores}")
        except IoDFormatError as exc:
            errors.append(exc)
    if expect in (None, "population"):
        try:
            population = read_population(path)
            found.append(f"population denominators for {len(population):,} LSOAs")
        except IoDFormatError as exc:
            errors.append(exc)
    if expect is not None and errors:
        raise errors[0]
    if not found:
        raise IoDFormatError(f"parses neither as an IoD2019 File 2/7 nor as File 6:\n{errors[0]}\n{errors[1]}")
    return "; ".join(found)


def fetch(url: str, out: Path, *, expect: str | None, force: bool, timeout: float) -> bool:
    """Download one file (unless present) and verify it, printing what happened.

    Returns:
        True if the file is in place and parses.
    """
    dest = out / file_name(url)
    if dest.exists() and not force:
        print(f"{dest}: already present, not downloaded again (use --force to replace it)")
    else:
        print(f"downloading {url}")
        try:
            download(url, dest, timeout=timeout)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            print(f"error: could not download {dest.name}: {network_reason(exc)}", file=sys.stderr)
            return False
    try:
        print(f"{dest}: OK, {verify(dest, expect=expect)}")
        return True
    except IoDFormatError as exc:
        print(f"error: {dest} was downloaded but does not parse:\n{exc}", file=sys.stderr)
        return False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Download the English Indices of Deprivation 2019 File 2 (ranks and deciles) and "
        "File 6 (population denominators) from gov.uk, and check that they parse.",
        epilog=f"Published by MHCLG under the Open Government Licence v3.0: {PUBLICATION}",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="URL",
        help="an extra file to fetch, e.g. the File 7 CSV; repeatable. It is checked with read_iod and "
        "read_population, and must parse as at least one of them",
    )
    parser.add_argument("--no-official", action="store_true", help="fetch only the --url files")
    parser.add_argument("--force", action="store_true", help="download again files that are already present")
    parser.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (default 60)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 when every file is in place and parses)."""
    args = parse_args(argv)
    jobs: list[tuple[str, str | None]] = [(url, None) for url in args.url]
    if not args.no_official:
        jobs = [(FILE2_URL, "iod"), (FILE6_URL, "population"), *jobs]
    if not jobs:
        print("nothing to do: --no-official was given without any --url", file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    ok = True
    for url, expect in jobs:
        try:
            ok &= fetch(url, args.out, expect=expect, force=args.force, timeout=args.timeout)
        except ValueError as exc:  # a --url without a file name
            print(f"error: {exc}", file=sys.stderr)
            ok = False
    if not ok:
        print(f"Some files are missing or invalid; they can also be downloaded by hand from {PUBLICATION}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
