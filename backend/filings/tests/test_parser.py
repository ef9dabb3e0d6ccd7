import re
from datetime import date

import pytest

from filings.parser import FilingParseError, parse_filing, parse_filing_file

from .expected import ACORN, DATA, FILINGS, KINGDON, LTS, cusips, positions, rows, total_dollars


@pytest.mark.parametrize("name", list(FILINGS))
def test_each_layout_is_read_with_header_fields(name):
    accession, cik, filer_name, period, _, _ = FILINGS[name]
    parsed = parse_filing_file(DATA / name)
    assert parsed.accession_number == accession
    assert parsed.form_type == "13F-HR"
    assert parsed.cik == cik
    assert parsed.filer_name == filer_name
    assert parsed.period_of_report == date.fromisoformat(period)


@pytest.mark.parametrize("name", list(FILINGS))
def test_row_and_position_counts_match_the_file(name):
    parsed = parse_filing_file(DATA / name)
    readme_rows = FILINGS[name][5]
    # The README's 55 / 14 / 77 are information-table rows (= the cover's tableEntryTotal).
    assert len(parsed.rows) == len(rows(name)) == readme_rows
    assert parsed.reported_entry_total == readme_rows
    # In these three filings no two rows share CUSIP + put/call + SH/PRN, so the
    # positions equal the rows; Kingdon has 52 distinct CUSIPs (options held beside shares).
    assert len(parsed.positions) == positions(name) == readme_rows
    assert len({p.cusip for p in parsed.positions}) == len(cusips(name))


def test_distinct_securities_per_filing():
    assert [len(cusips(name)) for name in (KINGDON, LTS, ACORN)] == [52, 14, 77]


@pytest.mark.parametrize("name", list(FILINGS))
def test_total_value_is_in_dollars(name):
    parsed = parse_filing_file(DATA / name)
    assert parsed.total_value == total_dollars(name)
    assert sum(p.value for p in parsed.positions) == total_dollars(name)


def test_known_totals():
    # Kingdon (2019) filed thousands: 663,859 thousand summed over its rows; the cover
    # says 663,857 thousand (rounding in the filer's own total).
    assert parse_filing_file(DATA / KINGDON).total_value == 663_859_000
    assert parse_filing_file(DATA / KINGDON).reported_value_total == 663_857_000
    assert parse_filing_file(DATA / KINGDON).values_in_thousands is True
    assert parse_filing_file(DATA / LTS).total_value == 454_926_000
    assert parse_filing_file(DATA / ACORN).total_value == 194_611_845
    assert parse_filing_file(DATA / ACORN).values_in_thousands is False


def test_pre_2023_values_are_multiplied_by_1000():
    parsed = parse_filing_file(DATA / KINGDON)
    aerie = next(row for row in parsed.rows if row.cusip == "00771V108")
    assert aerie.value == 29_604_000
    assert aerie.shares == 1_224_825


def test_options_and_principal_amounts_are_separate_positions():
    parsed = parse_filing_file(DATA / KINGDON)
    athenex = sorted(
        (p.put_call, p.value, p.shares) for p in parsed.positions if p.cusip == "04685N103"
    )
    assert athenex == [("", 17_561_000, 1_150_000), ("Call", 2_291_000, 150_000)]
    kempharm = next(p for p in parsed.positions if p.cusip == "488445AB3")
    assert kempharm.sh_prn_type == "PRN"


def test_rows_of_one_cusip_are_aggregated_into_one_position():
    raw = (DATA / LTS).read_bytes()
    first = re.search(rb"<ns1:infoTable>.*?</ns1:infoTable>", raw, re.S).group(0)
    # The same security again, under shared investment discretion.
    second = first.replace(b"SOLE</ns1:investmentDiscretion>", b"DFND</ns1:investmentDiscretion>")
    parsed = parse_filing(raw.replace(first, first + second, 1), source_name=LTS)
    assert len(parsed.rows) == 15
    amazon = [p for p in parsed.positions if p.cusip == "023135106"]
    assert len(amazon) == 1
    assert (amazon[0].value, amazon[0].shares, amazon[0].row_count) == (34_958_000, 275_000, 2)
    assert len(parsed.positions) == 14


def test_nc_file_without_line_breaks_is_read():
    raw = (DATA / ACORN).read_bytes()
    assert b"\n" not in raw.split(b"\n", 1)[1][:2000]  # CR-only after the first line
    assert parse_filing(raw, source_name=ACORN).filed_on == date(2025, 1, 22)


def test_a_file_that_is_not_a_filing_is_refused():
    with pytest.raises(FilingParseError):
        parse_filing_file(DATA / "master-index-2020Q1-excerpt.txt")


def test_entity_expansion_is_refused():
    raw = (DATA / LTS).read_bytes()
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><ns1:informationTable '
        b'xmlns:ns1="http://www.sec.gov/edgar/document/thirteenf/informationtable">&lol2;'
        b"</ns1:informationTable>"
    )
    start = raw.rindex(b"<XML>") + len(b"<XML>")
    end = raw.rindex(b"</XML>")
    with pytest.raises(FilingParseError):
        parse_filing(raw[:start] + bomb + raw[end:], source_name="bomb.txt")


def _with_table(xml: bytes) -> bytes:
    """LTS's filing with its information table replaced by ``xml``."""
    raw = (DATA / LTS).read_bytes()
    start = raw.rindex(b"<XML>") + len(b"<XML>")
    return raw[:start] + xml + raw[raw.rindex(b"</XML>") :]


@pytest.mark.parametrize(
    "xml",
    [
        # An external entity: the parser would read a local file into the document.
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<informationTable>&x;</informationTable>",
        # A DTD from the network.
        b'<!DOCTYPE informationTable SYSTEM "http://127.0.0.1:9/t.dtd"><informationTable/>',
        # UTF-16: the bytes "<!DOCTYPE" would not appear as such; refused whatever it holds.
        '<?xml version="1.0" encoding="UTF-16"?><informationTable/>'.encode("utf-16"),
        # An encoding that is no ASCII superset (EBCDIC), where "<!DOCTYPE" is other bytes.
        b'<?xml version="1.0" encoding="cp500"?><informationTable/>',
    ],
)
def test_xml_with_a_dtd_or_an_unsafe_encoding_is_refused(xml: bytes) -> None:
    with pytest.raises(FilingParseError, match=r"document type|NUL|not read"):
        parse_filing(_with_table(xml), source_name="hostile.txt")


def test_a_large_information_table_is_read_as_a_stream(monkeypatch) -> None:
    from filings import parser

    whole = [parse_filing_file(DATA / name) for name in FILINGS]
    monkeypatch.setattr(parser, "STREAM_ABOVE", 0)  # every part streamed, in 64-byte pieces
    monkeypatch.setattr(parser, "_FEED", 64)
    assert [parse_filing_file(DATA / name) for name in FILINGS] == whole


@pytest.mark.parametrize("value", [b"99999999999999999999", b"1e400", b"12abc"])
def test_an_amount_that_cannot_be_stored_is_refused(value: bytes) -> None:
    raw = (DATA / LTS).read_bytes()
    raw = re.sub(rb"(<ns1:value>)[^<]*", rb"\g<1>" + value, raw, count=1)
    with pytest.raises(FilingParseError, match="value"):
        parse_filing(raw, source_name=LTS)
