"""Write an EDGAR-shaped folder: a quarter's ``master.idx`` and its 13F filings.

:func:`quarter_write` derives N synthetic filings (M holdings each) from the three real filings
the project ships (the 2020 ``.txt`` with an unprefixed information table, the 2023 ``.txt`` with
``ns1:``, the 2025 ``.nc`` layout), cycling through them, and breaks every ``broken_every``-th
one on purpose (a truncated document, a filing without a 13F primary document).
:func:`demo_write` copies the real filings as they are under the excerpt's master index.

Filers share securities as real ones do: each filing's M distinct CUSIPs are drawn from a
universe of ``securities`` CUSIPs with Zipf-like popularity (the one of rank r weighs
1/r^``popularity``), so a few securities are held by most filers (as Apple is) and most by
a handful; the holders endpoint then has realistic work to do.
"""

from __future__ import annotations

import argparse
import bisect
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The project's demo data (backend/filings/data/sec13f), found from this file's place in the repo.
DEMO_DIR = Path(__file__).resolve().parents[3] / "backend" / "filings" / "data" / "sec13f"
TEMPLATES = (
    "0001000097-20-000004.txt",
    "0001894188-23-000007.txt",
    "0001951757-25-000093.nc",
)
_ROW = re.compile(rb"<(?P<p>(?:\w+:)?)infoTable>.*?</(?P=p)infoTable>", re.S)
_HEADER_ACCESSION = re.compile(rb"(?:ACCESSION NUMBER:\s*|<ACCESSION-NUMBER>)([\d-]{20})")
_HEADER_CIK = re.compile(rb"(?:CENTRAL INDEX KEY:\s*|<CIK>)(\d{10})")
_HEADER_NAME = re.compile(rb"(?:COMPANY CONFORMED NAME:\s*|<CONFORMED-NAME>)([^\n<]+)")
MASTER_HEAD = (
    "Description:           Master Index of EDGAR Dissemination Feed\n"
    "Last Data Received:    {last}\n"
    "Comments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n"
    "Cloud HTTP:            https://www.sec.gov/Archives/\n"
    "\n\n\n\n"
    "CIK|Company Name|Form Type|Date Filed|Filename\n" + "-" * 80 + "\n"
)


@dataclass(frozen=True)
class Entry:
    cik: int
    name: str
    form: str
    date: str
    filename: str  # edgar/data/<cik>/<accession>.txt
    broken: bool = False

    @property
    def accession(self) -> str:
        return self.filename.rsplit("/", 1)[1].removesuffix(".txt")


def index_path(root: Path, quarter: str) -> Path:
    """``root/edgar/full-index/<YYYY>/QTR<n>/master.idx`` for ``quarter`` like ``2020Q1``."""
    year, q = quarter.upper().split("Q")
    return Path(root) / "edgar" / "full-index" / year / f"QTR{q}" / "master.idx"


def master_write(root: Path, quarter: str, entries: list[Entry]) -> Path:
    path = index_path(root, quarter)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{e.cik}|{e.name}|{e.form}|{e.date}|{e.filename}\n" for e in entries]
    # Other forms are in every real index; the ingester must skip them.
    lines.append(
        "1000045|NICHOLAS FINANCIAL INC|SC 13G|2020-02-12|"
        "edgar/data/1000045/0001037389-20-000051.txt\n"
    )
    path.write_text(MASTER_HEAD.format(last="March 31, 2020") + "".join(lines))
    return path


def cusip_of(rank: int) -> str:
    """The synthetic CUSIP of the security of popularity ``rank`` (1 = most held): 8 digits
    (``rank`` times a prime modulo 10^8, so distinct for every rank) and a check digit."""
    return f"{rank * 104729 % 10**8:08d}{rank % 10}"


class Universe:
    """``size`` securities, the one of rank r drawn with weight 1/r^``popularity``."""

    def __init__(self, size: int, popularity: float = 1.0) -> None:
        self.size = size
        total = 0.0
        self._cumulative = []
        for rank in range(1, size + 1):
            total += rank**-popularity
            self._cumulative.append(total)
        self._total = total

    def draw(self, count: int, rng: random.Random) -> list[int]:
        """``count`` distinct ranks (``count`` <= ``size``), by popularity."""
        if count > self.size:
            raise ValueError(f"{count} holdings do not fit {self.size} securities.")
        chosen: dict[int, None] = {}
        while len(chosen) < count:
            rank = bisect.bisect_left(self._cumulative, rng.random() * self._total) + 1
            chosen[min(rank, self.size)] = None
        return list(chosen)


def _row_maker(row: bytes) -> Callable[[dict[bytes, bytes]], bytes]:
    """A function writing ``row`` (one ``infoTable`` element) with other values for its
    CUSIP, issuer, value and share amount, and no put/call: the row cut once around those
    values, joined per row (a regular expression per field and row took most of the time)."""
    row = re.sub(rb"<(\w+:)?putCall>[^<]*</(\w+:)?putCall>", b"", row)
    for tag in (b"cusip", b"value", b"sshPrnamt", b"nameOfIssuer"):
        # The value becomes the name between two NUL bytes (never in the template).
        row = re.sub(rb"(<(?:\w+:)?" + tag + rb">)[^<]*(<)", rb"\1" + b"\0" + tag + b"\0" + rb"\2",
                     row, count=1)  # fmt: skip
    pieces = re.split(rb"\x00(\w+)\x00", row)

    def make(values: dict[bytes, bytes]) -> bytes:
        return b"".join(values[part] if n % 2 else part for n, part in enumerate(pieces))

    return make


def filing_synthesize(template: bytes, *, cik: int, accession: str, name: str, holdings: int,
                      seed: int, universe: Universe | None = None) -> bytes:  # fmt: skip
    """``template`` as filer ``cik`` with ``holdings`` synthetic positions in distinct
    CUSIPs drawn from ``universe`` (default: 10,000 securities, popularity 1)."""
    universe = universe or Universe(max(10_000, 2 * holdings))
    old_accession = _HEADER_ACCESSION.search(template)
    old_cik = _HEADER_CIK.search(template)
    old_name = _HEADER_NAME.search(template)
    assert old_accession and old_cik and old_name, "template lacks its header"
    rows = list(_ROW.finditer(template))
    first, last = rows[0], rows[-1]
    make = _row_maker(first.group(0))
    rng = random.Random(seed)
    body = []
    for i, rank in enumerate(universe.draw(holdings, rng)):
        cusip = cusip_of(rank).encode()
        body.append(make({
            b"cusip": cusip,
            b"value": str(1000 + rng.randrange(1_000_000) + i).encode(),
            b"sshPrnamt": str(100 + rng.randrange(100_000)).encode(),
            b"nameOfIssuer": b"ISSUER " + cusip,
        }))  # fmt: skip
    out = template[: first.start()] + b"".join(body) + template[last.end() :]
    out = out.replace(old_accession.group(1), accession.encode())
    out = out.replace(old_cik.group(1), f"{cik:010d}".encode())
    out = out.replace(old_name.group(1).strip(), name.encode())
    # The entry and value totals of the cover page no longer match: the parser does not need them.
    return out


def quarter_write(root: Path, *, quarter: str = "2020Q1", filers: int = 10, holdings: int = 20,
                  broken_every: int = 0, amendments: int = 0, securities: int = 10_000,
                  popularity: float = 1.0) -> list[Entry]:  # fmt: skip
    """Write ``filers`` 13F-HR filings of ``holdings`` positions each (and ``amendments``
    13F-HR/A restatements of the first filers) and the quarter's master index under ``root``.
    Every ``broken_every``-th filing is unparsable on purpose (0: none). Positions are in
    distinct CUSIPs of a universe of ``securities`` (at least ``2 x holdings``) drawn by
    Zipf-like ``popularity`` (:class:`Universe`)."""
    root = Path(root)
    templates = [(DEMO_DIR / name).read_bytes() for name in TEMPLATES]
    universe = Universe(max(securities, 2 * holdings), popularity)
    year = quarter[:4]
    entries: list[Entry] = []
    for n in range(filers + amendments):
        amended = n >= filers
        filer = n - filers if amended else n
        cik = 5_000_000 + filer
        accession = f"{cik:010d}-{year[2:]}-{n:06d}"
        name = f"SYNTHETIC CAPITAL {filer} LLC"
        broken = not amended and broken_every > 0 and (n + 1) % broken_every == 0
        raw = filing_synthesize(templates[filer % 3], cik=cik, accession=accession, name=name,
                                holdings=holdings, seed=n, universe=universe)  # fmt: skip
        if amended:
            raw = _amend(raw)
        if broken:
            raw = (
                raw[: len(raw) // 2] if n % 2 else raw.replace(b"edgarSubmission", b"otherDocument")
            )
        form = "13F-HR/A" if amended else "13F-HR"
        entry = Entry(cik, name, form, f"{year}-02-14", f"edgar/data/{cik}/{accession}.txt", broken)
        path = root / entry.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        entries.append(entry)
    master_write(root, quarter, entries)
    return entries


def _amend(raw: bytes) -> bytes:
    """A restating 13F-HR/A: the submission type and the cover page's amendment fields."""
    raw = raw.replace(b"13F-HR<", b"13F-HR/A<").replace(b"13F-HR\n", b"13F-HR/A\n")
    raw = raw.replace(b"13F-HR\r\n", b"13F-HR/A\r\n")
    return re.sub(
        rb"<(\w+:)?reportType>",
        rb"<isAmendment>true</isAmendment><amendmentNo>1</amendmentNo>"
        rb"<amendmentInfo><amendmentType>RESTATEMENT</amendmentType></amendmentInfo><\1reportType>",
        raw,
        count=1,
    )


def demo_write(root: Path) -> list[Entry]:
    """The shipped filings under the 2020Q1 excerpt's master index (only KINGDON's is in it;
    the other two are listed too, so the three layouts are all served)."""
    root = Path(root)
    entries = []
    for name in TEMPLATES:
        raw = (DEMO_DIR / name).read_bytes()
        accession = name.split(".")[0]
        cik = int(_HEADER_CIK.search(raw).group(1))  # type: ignore[union-attr]
        filer = _HEADER_NAME.search(raw).group(1).strip().decode()  # type: ignore[union-attr]
        entry = Entry(cik, filer, "13F-HR", "2020-02-14", f"edgar/data/{cik}/{accession}.txt")
        (root / entry.filename).parent.mkdir(parents=True, exist_ok=True)
        (root / entry.filename).write_bytes(raw)
        entries.append(entry)
    master_write(root, "2020Q1", entries)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic EDGAR quarter.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--quarter", default="2020Q1")
    parser.add_argument("--filers", type=int, default=100)
    parser.add_argument("--holdings", type=int, default=100)
    parser.add_argument("--broken-every", type=int, default=0)
    parser.add_argument("--securities", type=int, default=10_000, help="CUSIPs to draw from")
    parser.add_argument("--popularity", type=float, default=1.0, help="Zipf exponent")
    args = parser.parse_args()
    entries = quarter_write(args.root, quarter=args.quarter, filers=args.filers,
                            holdings=args.holdings, broken_every=args.broken_every,
                            securities=args.securities, popularity=args.popularity)  # fmt: skip
    print(f"{len(entries)} filings under {args.root}")


if __name__ == "__main__":
    main()
