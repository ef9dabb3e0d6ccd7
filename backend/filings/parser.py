"""Read SEC Form 13F-HR filings as EDGAR serves them.

One parser for the layouts EDGAR uses:

* the full submission text (``.txt``): an SGML header of ``KEY: value`` lines, then
  ``<DOCUMENT>`` blocks whose ``<XML>`` parts hold ``primary_doc.xml`` and the information
  table (elements un-prefixed in a default namespace, or ``ns1:``-prefixed);
* the dissemination SGML (``.nc``): ``<TAG>value`` header tags with no closing tags and
  no line breaks (CR only), then the same ``<XML>`` parts.

The XML parts are parsed with :mod:`defusedxml` (filings are untrusted input) and read by
local element name, so the namespace prefix does not matter. Values are normalised to
whole US dollars: filings made before 2023-01-03 report thousands of dollars.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

# The SEC's rule change: 13F reports filed from this day on state <value> in dollars.
DOLLAR_VALUES_FROM = date(2023, 1, 3)

_XML_PART = re.compile(rb"<XML>(.*?)</XML>", re.IGNORECASE | re.DOTALL)
# Full submission header: "CONFORMED PERIOD OF REPORT:\t20191231".
_TXT_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z0-9 /-]*?):[ \t]*(\S[^\r\n]*)$", re.MULTILINE)
# Dissemination header: "<PERIOD>20241231" up to the next tag or line end.
_NC_HEADER = re.compile(r"<([A-Z][A-Z0-9-]*)>([^<\r\n]+)")


class FilingParseError(ValueError):
    """The file is not a 13F-HR filing this parser can read; the message says why."""


@dataclass(frozen=True)
class InfoTableRow:
    """One row of the information table, value already in dollars."""

    cusip: str
    issuer_name: str
    title_of_class: str
    value: int
    shares: int
    sh_prn_type: str  # "SH" shares or "PRN" principal amount
    put_call: str  # "", "Put" or "Call"
    investment_discretion: str


@dataclass(frozen=True)
class Position:
    """Rows of one CUSIP, option type and amount type summed: what a filer holds."""

    cusip: str
    issuer_name: str
    title_of_class: str
    put_call: str
    sh_prn_type: str
    value: int
    shares: int
    row_count: int


@dataclass(frozen=True)
class ParsedFiling:
    accession_number: str
    form_type: str
    cik: int
    filer_name: str
    period_of_report: date
    filed_on: date | None
    # From the cover's summary page, as filed (dollars); the row sum can differ by rounding.
    reported_entry_total: int | None
    reported_value_total: int | None
    values_in_thousands: bool
    rows: list[InfoTableRow] = field(default_factory=list)
    # A 13F-HR/A's cover: "RESTATEMENT" replaces the earlier report of the period, "NEW
    # HOLDINGS" adds positions to it; "" for an original report.
    amendment_type: str = ""

    @property
    def positions(self) -> list[Position]:
        return aggregate_positions(self.rows)

    @property
    def total_value(self) -> int:
        """Sum of the information table in dollars."""
        return sum(row.value for row in self.rows)


def aggregate_positions(rows: Iterable[InfoTableRow]) -> list[Position]:
    """Sum rows that describe the same position, ordered by value (largest first).

    A filer reports one CUSIP in several rows when investment discretion or voting
    authority differs; those are one position. Options (``putCall``) on a security and
    principal amounts (``PRN``) stay separate positions: adding them to shares would
    be meaningless.
    """
    merged: dict[tuple[str, str, str], dict] = {}
    for row in rows:
        key = (row.cusip, row.put_call, row.sh_prn_type)
        entry = merged.get(key)
        if entry is None:
            merged[key] = {"row": row, "value": row.value, "shares": row.shares, "count": 1}
        else:
            entry["value"] += row.value
            entry["shares"] += row.shares
            entry["count"] += 1
    positions = [
        Position(
            cusip=key[0],
            issuer_name=entry["row"].issuer_name,
            title_of_class=entry["row"].title_of_class,
            put_call=key[1],
            sh_prn_type=key[2],
            value=entry["value"],
            shares=entry["shares"],
            row_count=entry["count"],
        )
        for key, entry in merged.items()
    ]
    positions.sort(key=lambda p: (-p.value, p.cusip, p.put_call, p.sh_prn_type))
    return positions


def parse_filing_file(path: str | Path) -> ParsedFiling:
    """Parse the filing stored at ``path`` (``.txt`` or ``.nc``)."""
    path = Path(path)
    return parse_filing(path.read_bytes(), source_name=path.name)


def parse_filing(raw: bytes, *, source_name: str = "") -> ParsedFiling:
    """Parse one 13F-HR submission from its raw bytes."""
    header = _parse_header(raw)
    primary: Element | None = None
    table: Element | None = None
    for match in _XML_PART.finditer(raw):
        root = _parse_xml(match.group(1), source_name)
        name = _local(root.tag)
        if name == "edgarSubmission":
            primary = root
        elif name == "informationTable":
            table = root
    if primary is None:
        raise FilingParseError(f"{source_name or 'The file'} has no 13F primary document.")

    form_type = _text(primary, "submissionType") or header.get("form_type", "")
    if not form_type.startswith("13F"):
        raise FilingParseError(f"{source_name or 'The file'} is a {form_type or 'non-13F'} filing.")
    cik_text = _text(primary, "cik") or header.get("cik", "")
    period_text = _text(primary, "periodOfReport") or header.get("period", "")
    filer_name = _text(primary, "filingManager/name") or header.get("name", "")
    accession = header.get("accession_number") or _accession_from_name(source_name)
    if not (cik_text.isdigit() and accession and period_text):
        raise FilingParseError(
            f"{source_name or 'The file'} lacks its CIK, accession number or period of report."
        )
    period = _parse_date(period_text)
    filed_on = _parse_date(header["filed_on"]) if header.get("filed_on") else None
    in_thousands = (filed_on or period) < DOLLAR_VALUES_FROM
    multiplier = 1000 if in_thousands else 1

    rows: list[InfoTableRow] = []
    if table is not None:
        rows = [_row(entry, multiplier) for entry in _children(table, "infoTable")]
    elif form_type in ("13F-HR", "13F-HR/A") and _text(primary, "reportType") != "13F NOTICE":
        raise FilingParseError(f"{source_name or 'The file'} has no information table.")

    entry_total = _text(primary, "summaryPage/tableEntryTotal")
    value_total = _text(primary, "summaryPage/tableValueTotal")
    return ParsedFiling(
        accession_number=accession,
        form_type=form_type,
        cik=int(cik_text),
        filer_name=filer_name.strip(),
        period_of_report=period,
        filed_on=filed_on,
        reported_entry_total=int(entry_total) if entry_total.isdigit() else None,
        reported_value_total=int(value_total) * multiplier if value_total.isdigit() else None,
        values_in_thousands=in_thousands,
        rows=rows,
        amendment_type=_text(primary, "amendmentInfo/amendmentType").upper()
        if form_type.endswith("/A")
        else "",
    )


# --- helpers ---------------------------------------------------------------------------


def _parse_header(raw: bytes) -> dict[str, str]:
    """The SGML header fields of either layout, under common names."""
    head = raw.split(b"<DOCUMENT>", 1)[0].decode("utf-8", errors="replace")
    if "<SEC-HEADER>" in head:
        fields: dict[str, str] = {}
        for key, value in _TXT_HEADER.findall(head):
            fields.setdefault(key.strip(), value.strip())  # first FILER block wins
        mapping = {
            "accession_number": "ACCESSION NUMBER",
            "form_type": "CONFORMED SUBMISSION TYPE",
            "period": "CONFORMED PERIOD OF REPORT",
            "filed_on": "FILED AS OF DATE",
            "name": "COMPANY CONFORMED NAME",
            "cik": "CENTRAL INDEX KEY",
        }
    else:
        fields = {}
        for key, value in _NC_HEADER.findall(head):
            fields.setdefault(key, value.strip())
        mapping = {
            "accession_number": "ACCESSION-NUMBER",
            "form_type": "TYPE",
            "period": "PERIOD",
            "filed_on": "FILING-DATE",
            "name": "CONFORMED-NAME",
            "cik": "CIK",
        }
    return {ours: fields[theirs] for ours, theirs in mapping.items() if fields.get(theirs)}


def _parse_xml(data: bytes, source_name: str) -> Element:
    try:
        return SafeET.fromstring(data.strip())
    except Exception as exc:  # defusedxml raises ParseError and its own DefusedXmlException
        raise FilingParseError(
            f"{source_name or 'The file'} holds XML that cannot be read: {exc}"
        ) from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _find(element: Element, path: str) -> Element | None:
    """First descendant matching a ``/``-separated path of local names (any depth for the first)."""
    first, *rest = path.split("/")
    for candidate in element.iter():
        if _local(candidate.tag) != first:
            continue
        node: Element | None = candidate
        for name in rest:
            node = next(iter(_children(node, name)), None) if node is not None else None
        if node is not None:
            return node
    return None


def _text(element: Element, path: str) -> str:
    node = _find(element, path)
    return (node.text or "").strip() if node is not None else ""


def _integer(text: str, what: str) -> int:
    cleaned = text.replace(",", "").strip()
    try:
        return round(float(cleaned)) if "." in cleaned else int(cleaned)
    except ValueError as exc:
        raise FilingParseError(f"The information table has a {what} that is not a number.") from exc


def _row(entry: Element, multiplier: int) -> InfoTableRow:
    cusip = _text(entry, "cusip").upper()
    if not cusip:
        raise FilingParseError("An information table row has no CUSIP.")
    put_call = _text(entry, "putCall").capitalize()
    return InfoTableRow(
        cusip=cusip,
        issuer_name=_text(entry, "nameOfIssuer"),
        title_of_class=_text(entry, "titleOfClass"),
        value=_integer(_text(entry, "value"), "value") * multiplier,
        shares=_integer(_text(entry, "shrsOrPrnAmt/sshPrnamt") or "0", "share amount"),
        sh_prn_type=(_text(entry, "shrsOrPrnAmt/sshPrnamtType") or "SH").upper(),
        put_call=put_call if put_call in ("Put", "Call") else "",
        investment_discretion=_text(entry, "investmentDiscretion"),
    )


def _parse_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%Y%m%d", "%m-%d-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FilingParseError(f"{text!r} is not a date.")


def _accession_from_name(source_name: str) -> str:
    match = re.match(r"(\d{10}-\d{2}-\d{6})", source_name)
    return match.group(1) if match else ""
