"""The stand-in over real HTTP: the index, the filings, the failures on demand, the log."""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from fakeedgar.generate import demo_write, quarter_write
from fakeedgar.server import EdgarServer


def get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "Tests tests@example.com"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serves_the_master_index_and_the_filings_it_names(tmp_path: Path) -> None:
    entries = quarter_write(tmp_path, filers=4, holdings=3, broken_every=2)
    with EdgarServer(tmp_path) as edgar:
        status, index = get(edgar.base_url + "/edgar/full-index/2020/QTR1/master.idx")
        assert status == 200
        lines = [line for line in index.decode().splitlines() if "|13F-HR" in line]
        assert len(lines) == 4
        filename = lines[0].rsplit("|", 1)[1]
        status, body = get(f"{edgar.base_url}/{filename}")
        assert status == 200 and entries[0].accession.encode() in body
        assert edgar.requests[-1].user_agent == "Tests tests@example.com"
    assert [e.broken for e in entries] == [False, True, False, True]


def test_unknown_paths_and_escapes_are_404(tmp_path: Path) -> None:
    demo_write(tmp_path)
    with EdgarServer(tmp_path) as edgar:
        assert get(edgar.base_url + "/edgar/data/1/none.txt")[0] == 404
        assert get(edgar.url + "/Archives/../../etc/passwd")[0] == 404
        assert get(edgar.url + "/other/")[0] == 404


@pytest.mark.parametrize("status", [429, 503])
def test_fail_next_answers_throttling_then_recovers(tmp_path: Path, status: int) -> None:
    demo_write(tmp_path)
    url = "/edgar/full-index/2020/QTR1/master.idx"
    with EdgarServer(tmp_path) as edgar:
        edgar.fail_next(status, times=2)
        assert [get(edgar.base_url + url)[0] for _ in range(3)] == [status, status, 200]
        assert [r.status for r in edgar.requests] == [status, status, 200]


def test_synthetic_filings_have_the_asked_holdings(tmp_path: Path) -> None:
    entries = quarter_write(tmp_path, filers=3, holdings=7, amendments=1)
    assert [e.form for e in entries] == ["13F-HR"] * 3 + ["13F-HR/A"]
    for entry in entries:
        raw = (tmp_path / entry.filename).read_bytes()
        assert raw.count(b"infoTable>") == 2 * 7
        assert entry.accession.encode() in raw
    assert b"RESTATEMENT" in (tmp_path / entries[3].filename).read_bytes()


def test_filers_share_securities_by_popularity(tmp_path: Path) -> None:
    entries = quarter_write(tmp_path, filers=60, holdings=10, securities=200)
    held = Counter()
    for entry in entries:
        cusips = re.findall(rb"<(?:\w+:)?cusip>([^<]+)<", (tmp_path / entry.filename).read_bytes())
        assert len(cusips) == len(set(cusips)) == 10  # distinct within a filing
        held.update(cusips)
    # The most popular security is held by most filers, most of the others by a few.
    assert held.most_common(1)[0][1] > 40
    assert len(held) < 60 * 10 / 3
    assert sorted(held.values())[len(held) // 2] < 10


def test_keeps_the_connection_alive_and_fails_one_path_on_demand(tmp_path: Path) -> None:
    entries = quarter_write(tmp_path, filers=2, holdings=2)
    with EdgarServer(tmp_path) as edgar:
        edgar.fail_path(entries[1].filename, 503)
        connection = http.client.HTTPConnection("127.0.0.1", int(edgar.url.rsplit(":", 1)[1]))
        statuses = []
        for entry in (entries[1], entries[0], entries[1]):
            connection.request("GET", f"/Archives/{entry.filename}")
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
            assert answer.version == 11 and not answer.will_close
        connection.close()
    assert statuses == [503, 200, 200]
