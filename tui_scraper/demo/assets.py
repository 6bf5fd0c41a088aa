"""The demo site's two binary files, built in code so the package ships no binaries.

Both are tiny but *valid* (an image viewer and a PDF reader open them), so a crawl
run with `--download image/*,application/pdf` stores real files, and a test can
check the stored bytes against these functions' output.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    # Each chunk: length, type, data, CRC over type+data (PNG spec §5.3).
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@cache
def png_bytes(width: int = 32, height: int = 32) -> bytes:
    """A small RGB gradient PNG (deterministic: no timestamps, fixed compression level)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "None" for every scanline
        for x in range(width):
            rows += bytes((x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), 160))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


@cache
def pdf_bytes() -> bytes:
    """A one-page PDF 1.4 saying "tui-scraper demo", with a correct xref table."""
    stream = b"BT /F1 18 Tf 72 720 Td (tui-scraper demo whitepaper) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    # xref entries are exactly 20 bytes each: "nnnnnnnnnn ggggg n\r\n" (PDF 1.4 §3.4.3).
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f\r\n"
    for offset in offsets:
        out += b"%010d 00000 n\r\n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
