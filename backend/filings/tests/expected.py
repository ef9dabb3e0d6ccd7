"""What the shipped filings contain, worked out from the files with regular expressions
(independently of filings.parser)."""

import re
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "sec13f"

KINGDON = "0001000097-20-000004.txt"
LTS = "0001894188-23-000007.txt"
ACORN = "0001951757-25-000093.nc"

# file -> (accession, cik, name, period, value multiplier, rows per README table)
FILINGS = {
    KINGDON: (
        "0001000097-20-000004",
        1000097,
        "KINGDON CAPITAL MANAGEMENT, L.L.C.",
        "2019-12-31",
        1000,
        55,
    ),
    LTS: ("0001894188-23-000007", 1894188, "LTS One Management LP", "2023-09-30", 1, 14),
    ACORN: ("0001951757-25-000093", 1994827, "ACORN CREEK CAPITAL LLC", "2024-12-31", 1, 77),
}

_ROW = re.compile(r"<(?:ns1:)?infoTable>(.*?)</(?:ns1:)?infoTable>", re.S)


def rows(name: str) -> list[dict]:
    text = (DATA / name).read_text()
    found = []
    for block in _ROW.findall(text):
        put_call = re.search(r"putCall>([^<]*)<", block)
        found.append(
            {
                "cusip": re.search(r"cusip>([^<]*)<", block).group(1),
                "value": int(re.search(r"value>([^<]*)<", block).group(1)),
                "put_call": put_call.group(1) if put_call else "",
                "type": re.search(r"sshPrnamtType>([^<]*)<", block).group(1),
            }
        )
    return found


def total_dollars(name: str) -> int:
    return sum(row["value"] for row in rows(name)) * FILINGS[name][4]


def positions(name: str) -> int:
    return len({(r["cusip"], r["put_call"], r["type"]) for r in rows(name)})


def cusips(name: str) -> set[str]:
    return {row["cusip"] for row in rows(name)}
