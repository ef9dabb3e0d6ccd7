"""Read SEC Form 13F-HR filings as EDGAR serves them.

One parser for the layouts EDGAR uses:

* the full submission text (``.txt``): an SGML header of ``KEY: value`` lines, then
  ``<DOCUMENT>`` blocks whose ``<XML>`` parts hold ``primary_doc.xml`` and the information
  table (elements un-prefixed in a default namespace, or ``ns1:``-prefixed);
* the dissemination SGML (``.nc``): ``<TAG>value`` header tags with no closing tags and
  no line breaks (CR only), then the same ``<XML>`` parts.

The XML parts are read by local element name, so the namespace prefix does not matter.
Values are normalised to whole US dollars: filings made before 2023-01-03 report thousands
of dollars.

Filings are untrusted input. An XML part that declares a DTD (``<!DOCTYPE``, ``<!ENTITY``)
is refused before parsing, so no entity of any kind (billion laughs, external files or
URLs) can exist; 13F documents never carry one. What remains is plain XML, which the
standard library's C parser (expat, with its own amplification limits) reads about twice
as fast as :mod:`defusedxml`'s pure-Python parser, the largest cost of a filing once it is
fetched. An information table over ``STREAM_ABOVE`` bytes is read as a stream, each row
dropped once read, so a 50,000-row filing does not hold a tree of 650,000 elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import cast
from xml.etree.ElementTree import Element, ParseError, XMLParser, XMLPullParser

# The SEC's rule change: 13F reports filed from this day on state <value> in dollars.
DOLLAR_VALUES_FROM = date(2023, 1, 3)

# The XML parts' tags, searched for one by one: a lazy ``<XML>(.*?)</XML>`` over a whole
# filing cost 20 times more.
_XML_OPEN = re.compile(rb"<XML>", re.IGNORECASE)
_XML_CLOSE = re.compile(rb"</XML>", re.IGNORECASE)
# The declaration's encoding, if any (matched where the part starts): only ASCII supersets
# are read, so that the byte search for a DTD (_parse_xml) cannot be dodged by an encoding
# (EBCDIC, UTF-16) that spells it otherwise.
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_ASCII_SUPERSETS = {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin-1",
                    b"latin1", b"windows-1252", b"cp1252"}  # fmt: skip
#: XML parts larger than this are read as a stream, in pieces of ``_FEED`` bytes.
STREAM_ABOVE = 4 << 20
_FEED = 1 << 20
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
    table: list[tuple[str, str, str, int, int, str, str, str]] | None = None
    for start, end in _xml_parts(raw):
        root, entries = _parse_xml(raw, start, end, source_name)
        name = _local(root.tag)
        if name == "edgarSubmission":
            primary = root
        elif name == "informationTable":
            table = entries
    if primary is None:
        raise FilingParseError(f"{source_name or 'The file'} has no 13F primary document.")

    form_type = _text(primary, "submissionType") or header.get("form_type", "")
    if not form_type.startswith("13F"):
        raise FilingParseError(f"{source_name or 'The file'} is a {form_type or 'non-13F'} filing.")
    cik_text = _text(primary, "cik") or header.get("cik", "")
    period_text = _text(primary, "periodOfReport") or header.get("period", "")
    filer_name = _text(primary, "filingManager/name") or header.get("name", "")
    accession = header.get("accession_number") or _accession_from_name(source_name)
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if not (cik_text.isdecimal() and len(cik_text) <= 10 and accession and period_text):
        raise FilingParseError(
            f"{source_name or 'The file'} lacks its CIK, accession number or period of report."
        )
    period = _parse_date(period_text)
    filed_on = _parse_date(header["filed_on"]) if header.get("filed_on") else None
    in_thousands = (filed_on or period) < DOLLAR_VALUES_FROM
    multiplier = 1000 if in_thousands else 1

    rows: list[InfoTableRow] = []
    if table is not None:
        rows = [
            InfoTableRow(cusip, name, title, value * multiplier, shares, kind, put_call, disc)
            for cusip, name, title, value, shares, kind, put_call, disc in table
        ]
    elif form_type in ("13F-HR", "13F-HR/A") and _text(primary, "reportType") != "13F NOTICE":
        raise FilingParseError(f"{source_name or 'The file'} has no information table.")

    if abs(sum(row.value for row in rows)) > _LARGEST:
        raise FilingParseError(f"{source_name or 'The file'} adds up to more than can be stored.")
    entry_total = _text(primary, "summaryPage/tableEntryTotal")
    value_total = _text(primary, "summaryPage/tableValueTotal")
    return ParsedFiling(
        accession_number=accession,
        form_type=form_type,
        cik=int(cik_text),
        filer_name=filer_name.strip(),
        period_of_report=period,
        filed_on=filed_on,
        reported_entry_total=_cover_number(entry_total, 1, 2**31 - 1),
        reported_value_total=_cover_number(value_total, multiplier, _LARGEST),
        values_in_thousands=in_thousands,
        rows=rows,
        amendment_type=_text(primary, "amendmentInfo/amendmentType").upper()
        if form_type.endswith("/A")
        else "",
    )


# --- helpers ---------------------------------------------------------------------------


def _parse_header(raw: bytes) -> dict[str, str]:
    """The SGML header fields of either layout, under common names."""
    end = raw.find(b"<DOCUMENT>")
    head = raw[: end if end >= 0 else len(raw)].decode("utf-8", errors="replace")
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


def _xml_parts(raw: bytes) -> list[tuple[int, int]]:
    """Where the ``<XML>...</XML>`` parts' contents start and end."""
    parts = []
    at = 0
    while (opening := _XML_OPEN.search(raw, at)) is not None:
        closing = _XML_CLOSE.search(raw, opening.end())
        if closing is None:
            break
        parts.append((opening.end(), closing.start()))
        at = closing.end()
    return parts


def _parse_xml(
    raw: bytes, start: int, end: int, source_name: str
) -> tuple[Element, list[tuple[str, str, str, int, int, str, str, str]]]:
    """The XML part ``raw[start:end]``: its root element and, read as it streams by, the
    rows of the information table (each ``infoTable`` element emptied once read)."""
    what = source_name or "The file"
    while start < end and raw[start] in b" \t\r\n":
        start += 1
    for marker in (b"<!DOCTYPE", b"<!ENTITY", b"\x00"):
        if raw.find(marker, start, end) >= 0:
            raise FilingParseError(
                f"{what} holds XML with a document type or entity declarations (or NUL "
                "bytes), which 13F documents never have: refused."
            )
    declared = _XML_ENCODING.match(raw, start, min(end, start + 200))
    if declared and declared.group(1).lower() not in _ASCII_SUPERSETS:
        encoding = declared.group(1).decode("ascii")
        raise FilingParseError(f"{what} holds XML in {encoding}, which is not read.")
    entries: list[tuple[str, str, str, int, int, str, str, str]] = []
    root: Element | None = None
    if end - start <= STREAM_ABOVE:
        # Small parts (all but the largest filers'): one tree, a quarter faster than events.
        try:
            # Not defusedxml: the DTD and encoding checks above leave nothing it would refuse.
            whole = XMLParser()  # noqa: S314
            whole.feed(raw[start:end])
            root = whole.close()
        except ParseError as exc:
            raise FilingParseError(f"{what} holds XML that cannot be read: {exc}") from exc
        if _local(root.tag) == "informationTable":
            entries = [_row(element) for element in root if _local(element.tag) == "infoTable"]
        return root, entries
    parser: XMLPullParser[Element] = XMLPullParser(events=("end",))
    try:
        for at in range(start, end, _FEED):
            parser.feed(raw[at : min(at + _FEED, end)])
            # Only "end" events were asked for: each carries its element.
            ended = cast(Iterator[tuple[str, Element]], parser.read_events())
            for _event, element in ended:
                root = element  # the last element to end is the root
                tag = element.tag
                if tag[-9:] == "infoTable" and (len(tag) == 9 or tag[-10] == "}"):
                    entries.append(_row(element))
                    element.clear()
        parser.close()
    except ParseError as exc:
        raise FilingParseError(f"{what} holds XML that cannot be read: {exc}") from exc
    if root is None:
        raise FilingParseError(f"{what} holds an empty XML part.")
    return root, entries


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


#: Amounts are stored as 64-bit integers; a larger one is a broken filing, not a position.
_LARGEST = 2**63 - 1


def _cover_number(text: str, multiplier: int, largest: int) -> int | None:
    """A total of the cover page, or None when absent or beyond what is stored (it is
    informative: the rows are what counts)."""
    if not text.isdecimal():
        return None
    number = int(text) * multiplier
    return number if number <= largest else None


def _integer(text: str, what: str) -> int:
    cleaned = text.replace(",", "").strip()
    try:
        number = round(float(cleaned)) if "." in cleaned else int(cleaned)
    except (ValueError, OverflowError) as exc:
        raise FilingParseError(f"The information table has a {what} that is not a number.") from exc
    if abs(number) > _LARGEST // 1000:  # room for the thousands of pre-2023 values
        raise FilingParseError(f"The information table has a {what} out of any range: {text}.")
    return number


def _fields(entry: Element) -> dict[str, str]:
    """An ``infoTable`` element's values by local name (``shrsOrPrnAmt/sshPrnamt`` for the
    nested ones): one pass over its two levels instead of a search per field."""
    fields: dict[str, str] = {}
    for child in entry:
        name = _LOCAL_NAMES.get(child.tag) or _local_name_cache(child.tag)
        if len(child):
            for grandchild in child:
                key = _LOCAL_NAMES.get(grandchild.tag) or _local_name_cache(grandchild.tag)
                fields.setdefault(name + "/" + key, (grandchild.text or "").strip())
        else:
            fields.setdefault(name, (child.text or "").strip())
    return fields


#: Local names of the ``{namespace}tag`` names seen, looked up 13 times per row. Bounded:
#: past a few hundred distinct names (a filing of made-up tags) nothing more is kept.
_LOCAL_NAMES: dict[str, str] = {}


def _local_name_cache(tag: str) -> str:
    name = _local(tag)
    if len(_LOCAL_NAMES) < 512:
        _LOCAL_NAMES[tag] = name
    return name


def _row(entry: Element) -> tuple[str, str, str, int, int, str, str, str]:
    """One information-table row: cusip, issuer, class, value as filed, shares, SH/PRN,
    put/call, investment discretion."""
    fields = _fields(entry)
    cusip = fields.get("cusip", "").upper()
    if not cusip:
        raise FilingParseError("An information table row has no CUSIP.")
    put_call = fields.get("putCall", "").capitalize()
    return (
        cusip,
        fields.get("nameOfIssuer", ""),
        fields.get("titleOfClass", ""),
        _integer(fields.get("value", ""), "value"),
        _integer(fields.get("shrsOrPrnAmt/sshPrnamt") or "0", "share amount"),
        (fields.get("shrsOrPrnAmt/sshPrnamtType") or "SH").upper(),
        put_call if put_call in ("Put", "Call") else "",
        fields.get("investmentDiscretion", ""),
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
