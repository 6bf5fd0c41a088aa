"""Encoding precedence golden tests (T20):
BOM -> HTTP charset -> <meta> in the first 1024 bytes -> detector -> UTF-8 with replacement."""

from __future__ import annotations

import os

import pytest

from tui_scraper.engine.decode import decode_html, normalise_label
from tui_scraper.engine.parse import PageJob, process_page
from tui_scraper.engine.urls import Scope

RU = "Привет мир"
JA = "こんにちは世界"
ZH = "你好世界"
RU_TEXT = "Это тестовая страница на русском языке, в ней достаточно текста для определения. " * 3
JA_TEXT = "これは日本語のテストページです。文字コードを判定するのに十分な文章があります。" * 3
ZH_TEXT = "这是一个中文测试页面，其中有足够的文字来判断字符编码。我们希望检测器能够正确识别。" * 3
PAD = "<!--" + "x" * 1100 + "-->"  # pushes a meta tag past the 1024-byte prescan window
SCOPE = Scope.build("http://example.com/")


def page(title: str, text: str = "", head: str = "") -> str:
    return f"<html><head>{head}<title>{title}</title></head><body><p>{text}</p></body></html>"


def title_of(body: bytes, charset: str | None) -> tuple[str | None, str | None]:
    """Run the real page processor: the title it stores and the encoding it records."""
    job = PageJob(
        url="http://example.com/",
        depth=0,
        body=body,
        charset=charset,
        is_html=True,
        rules=(),
        scope=SCOPE,
    )
    result = process_page(job)
    return result.title, result.encoding


GOLDEN = [
    # (name, body, HTTP charset, expected title, expected encoding)
    (
        "cp1251 meta only",
        page(RU, RU_TEXT, '<meta charset="windows-1251">').encode("cp1251"),
        None,
        RU,
        "cp1251",
    ),
    ("cp1251 HTTP only", page(RU, RU_TEXT).encode("cp1251"), "windows-1251", RU, "cp1251"),
    ("cp1251 no declaration", page(RU, RU_TEXT).encode("cp1251"), None, RU, "cp1251"),
    (
        "cp1251 meta after 1024 bytes",
        page(RU, RU_TEXT, PAD + '<meta charset="koi8-r">').encode("cp1251"),
        None,
        RU,
        "cp1251",
    ),
    (
        "sjis http-equiv only",
        page(
            JA, JA_TEXT, '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
        ).encode("shift_jis"),
        None,
        JA,
        "cp932",
    ),
    ("sjis HTTP only", page(JA, JA_TEXT).encode("shift_jis"), "shift_jis", JA, "cp932"),
    ("sjis no declaration", page(JA, JA_TEXT).encode("shift_jis"), None, JA, "cp932"),
    ("gbk meta gb2312", page(ZH, ZH_TEXT, "<meta charset=gb2312>").encode("gbk"), None, ZH, "gbk"),
    ("gbk HTTP only", page(ZH, ZH_TEXT).encode("gbk"), "GBK", ZH, "gbk"),
    ("euc-jp no declaration", page(JA, JA_TEXT).encode("euc-jp"), None, JA, "euc_jp"),
    (
        "utf-8 BOM beats HTTP and meta",
        b"\xef\xbb\xbf" + page(RU, RU_TEXT, "<meta charset=koi8-r>").encode("utf-8"),
        "windows-1251",
        RU,
        "utf-8",
    ),
    ("utf-16le BOM", b"\xff\xfe" + page(ZH, ZH_TEXT).encode("utf-16-le"), None, ZH, "utf-16-le"),
    (
        "utf-16be BOM",
        b"\xfe\xff" + page(JA, JA_TEXT).encode("utf-16-be"),
        "iso-8859-1",
        JA,
        "utf-16-be",
    ),
    ("utf-16 HTTP label without BOM", page(RU).encode("utf-16-le"), "utf-16", RU, "utf-16-le"),
    (
        "meta utf-16 means utf-8",
        page(RU, head="<meta charset=utf-16>").encode("utf-8"),
        None,
        RU,
        "utf-8",
    ),
    (
        "latin-1 label is windows-1252",
        page("price 5\u20ac").encode("cp1252"),
        "ISO-8859-1",
        "price 5\u20ac",
        "cp1252",
    ),
    (
        "ascii label is windows-1252",
        page("\u201cq\u201d").encode("cp1252"),
        "us-ascii",
        "\u201cq\u201d",
        "cp1252",
    ),
    (
        "bogus HTTP label ignored",
        page(RU, head="<meta charset=windows-1251>").encode("cp1251"),
        "x-no-such-charset",
        RU,
        "cp1251",
    ),
    (
        "rot13 is not an encoding",
        page(RU, head="<meta charset=windows-1251>").encode("cp1251"),
        "rot13",
        RU,
        "cp1251",
    ),
    ("utf-7 refused", page("a+b-c").encode("ascii"), "utf-7", "a+b-c", "utf-8"),
    (
        "bogus meta skipped, next meta used",
        page(RU, head='<meta charset="nope"><meta charset="cp1251">').encode("cp1251"),
        None,
        RU,
        "cp1251",
    ),
    (
        "meta inside a comment ignored",
        page(RU, RU_TEXT, "<!-- <meta charset=koi8-r> --><meta charset=windows-1251>").encode(
            "cp1251"
        ),
        None,
        RU,
        "cp1251",
    ),
    ("pure ascii", page("Hello").encode("ascii"), None, "Hello", "utf-8"),
    ("utf-8 no declaration", page(RU, RU_TEXT).encode("utf-8"), None, RU, "utf-8"),
    (
        "conflicting HTTP vs meta: HTTP wins",
        page(RU, head="<meta charset=windows-1251>").encode("cp1251"),
        "koi8-r",
        RU.encode("cp1251").decode("koi8-r"),
        "koi8-r",
    ),
]


@pytest.mark.parametrize(
    ("body", "charset", "title", "encoding"),
    [case[1:] for case in GOLDEN],
    ids=[case[0] for case in GOLDEN],
)
def test_encoding_precedence_golden(
    body: bytes, charset: str | None, title: str, encoding: str
) -> None:
    assert title_of(body, charset) == (title, encoding)


def test_utf8_cut_mid_character_is_still_utf8() -> None:
    body = page(RU, RU_TEXT).encode("utf-8")
    cut = body[: body.index("Это".encode()) + 1]  # ends inside a two-byte sequence
    text, name = decode_html(cut, None)
    assert name == "utf-8"
    assert RU in text


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02\xff\xfe" * 1000,
        os.urandom(100_000),
        b"<html><title>a\xff\xfe\x00b</title>\xc3\x28 \xed\xa0\x80</html>",
        b"",
    ],
    ids=["binary", "random", "invalid-utf8-and-nul", "empty"],
)
def test_garbage_never_raises(body: bytes) -> None:
    text, name = decode_html(body, None)
    assert isinstance(text, str)
    assert normalise_label(name) == name


def test_labels() -> None:
    assert normalise_label("UTF8") == "utf-8"
    assert normalise_label(' "windows-1251" ') == "cp1251"
    assert normalise_label("x-sjis") == "cp932"
    assert normalise_label("latin1") == "cp1252"
    for bad in ("", None, "base64", "rot13", "utf-7", "zlib", "hex", "undefined", "no-such"):
        assert normalise_label(bad) is None
