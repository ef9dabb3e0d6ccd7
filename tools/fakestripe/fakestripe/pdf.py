"""A one-page PDF of text lines, written by hand (PDF 1.4, no dependency).

Enough for an invoice: Helvetica and Helvetica-Bold (two of the 14 fonts every PDF reader has,
so nothing is embedded), WinAnsi encoding (Windows-1252: ``€``, ``£``, accents; any other
character becomes ``?``), text placed at given points on a US Letter page, an uncompressed
content stream, a cross-reference table with exact byte offsets and an Info dictionary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, in points
FONTS = {"regular": "F1", "bold": "F2"}


@dataclass(frozen=True)
class Text:
    """One run of text whose baseline starts at (x, y) points from the bottom-left corner."""

    x: float
    y: float
    text: str
    size: float = 11
    font: str = "regular"


def _literal(text: str) -> bytes:
    """A PDF literal string: Windows-1252 bytes, with ``\\``, ``(`` and ``)`` escaped."""
    clean = "".join(ch if ch >= " " else " " for ch in text)
    raw = clean.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _content(runs: list[Text]) -> bytes:
    ops = []
    for run in runs:
        font = FONTS[run.font]
        ops.append(
            b"BT /%s %.1f Tf %.2f %.2f Td %s Tj ET"
            % (font.encode(), run.size, run.x, run.y, _literal(run.text))
        )
    return b"\n".join(ops) + b"\n"


def document(runs: list[Text], *, title: str) -> bytes:
    """The bytes of a one-page PDF showing ``runs``."""
    stream = _content(runs)
    created = time.strftime("D:%Y%m%d%H%M%SZ", time.gmtime()).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        % (PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Title %s /Producer (fakestripe, the offline Stripe stand-in) /CreationDate (%s) >>"
        % (_literal(title), created),
    ]
    # The binary comment on line 2 tells transfer tools the file is binary (PDF spec 7.5.2).
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"  # every entry is exactly 20 bytes, as the spec requires
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (
        len(objects) + 1,
        len(objects),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
