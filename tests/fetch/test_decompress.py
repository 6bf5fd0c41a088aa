"""BoundedDecoder: every supported coding round-trips; the cap is on the decoded size."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard

from tui_scraper.engine.decompress import BodyTooLarge, BoundedDecoder, UnsupportedEncoding

DATA = b"".join(b"<p>line %d of a page</p>\n" % i for i in range(5000))

ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda b: b,
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as RFC 9110 says
    "deflate-raw": lambda b: zlib.compress(b)[2:-4],  # raw deflate, as many servers send
    "br": lambda b: brotli.compress(b, quality=5),
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


def _feed(enc: str, blob: bytes, cap: int, chunk: int) -> bytes:
    dec = BoundedDecoder([enc.removesuffix("-raw")], cap)
    for i in range(0, len(blob), chunk):
        dec.feed(blob[i : i + chunk])
    return dec.finish()


@pytest.mark.parametrize("enc", sorted(ENCODERS))
@pytest.mark.parametrize("chunk", [1, 7, 16384, 1 << 20])
def test_round_trip_in_any_chunking(enc: str, chunk: int) -> None:
    blob = ENCODERS[enc](DATA)
    # Identity at 1-byte chunks is only slow, not interesting.
    blob_chunk = 997 if chunk == 1 and len(blob) > 20000 else chunk
    assert _feed(enc, blob, len(DATA), blob_chunk) == DATA  # exactly at the cap is fine


@pytest.mark.parametrize("enc", sorted(ENCODERS))
def test_one_byte_over_the_cap_is_too_large(enc: str) -> None:
    with pytest.raises(BodyTooLarge):
        _feed(enc, ENCODERS[enc](DATA), len(DATA) - 1, 4096)


def test_truncate_keeps_exactly_cap_bytes() -> None:
    dec = BoundedDecoder(["gzip"], 1000, truncate=True)
    with pytest.raises(BodyTooLarge):
        dec.feed(gzip.compress(DATA))
    assert dec.partial() == DATA[:1000]


def test_multi_member_gzip_is_one_body() -> None:
    assert _feed("gzip", gzip.compress(b"abc") + gzip.compress(b"def"), 100, 3) == b"abcdef"


@pytest.mark.parametrize(
    "codings", [["gzip", "gzip"], ["gzip, br"], ["br", "zstd"], ["deflate", "gzip", "gzip"]]
)
def test_stacked_codings_refused(codings: list[str]) -> None:
    flat = [c.strip() for cs in codings for c in cs.split(",")]
    with pytest.raises(UnsupportedEncoding, match="stacked"):
        BoundedDecoder(flat, 1000)


@pytest.mark.parametrize("coding", ["compress", "x-compress", "sdch", "bzip2", "\x1b[2J"])
def test_unknown_coding_refused(coding: str) -> None:
    with pytest.raises(UnsupportedEncoding, match="unsupported"):
        BoundedDecoder([coding], 1000)


def test_identity_and_blanks_are_no_coding() -> None:
    dec = BoundedDecoder(["", " identity ", "GZIP"], 10_000)
    dec.feed(gzip.compress(b"hello"))
    assert dec.finish() == b"hello" and dec.encoding == "gzip"


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_corrupt_data_is_an_encoding_error(enc: str) -> None:
    blob = bytearray(ENCODERS[enc](DATA))
    rng = random.Random(7)
    for _ in range(40):
        blob[rng.randrange(4, len(blob))] ^= 0xFF
    if enc != "br":  # brotli has no checksum: flipped bits may decode to other bytes
        with pytest.raises((UnsupportedEncoding, BodyTooLarge)):
            _feed(enc, bytes(blob), len(DATA) * 2, 512)
    with pytest.raises(UnsupportedEncoding):
        _feed(enc, b"\x00\x01garbage that is not " + enc.encode(), 10_000, 4)


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_bomb_stops_near_the_cap(enc: str) -> None:
    """In-process check of the bound (RSS is measured in the subprocess test): a 64 MiB bomb fed
    in one piece never yields more than cap bytes."""
    zeros = bytes(64 << 20)
    fast: dict[str, Callable[[bytes], bytes]] = {
        "gzip": lambda b: gzip.compress(b, 1),
        "deflate": lambda b: zlib.compress(b, 1),
        "br": lambda b: brotli.compress(b, quality=1),
        "zstd": lambda b: zstandard.ZstdCompressor(level=1).compress(b),
    }
    blob = fast[enc](zeros)
    del zeros
    dec = BoundedDecoder([enc], 1 << 20)
    with pytest.raises(BodyTooLarge):
        dec.feed(blob)
    assert dec.size <= 1 << 20


def test_zstd_window_over_8_mib_refused() -> None:
    # RFC 9659: HTTP zstd windows are at most 8 MiB; a larger window means a larger allocation.
    params = zstandard.ZstdCompressionParameters.from_level(1, window_log=25)
    blob = zstandard.ZstdCompressor(compression_params=params).compress(bytes(40 << 20))
    with pytest.raises(UnsupportedEncoding):
        _feed("zstd", blob, 100 << 20, 65536)
