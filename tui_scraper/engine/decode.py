"""Choose the character encoding of an HTML body ourselves.

Precedence, as the HTML Standard's encoding sniffing: BOM -> HTTP charset -> <meta> prescan of the
first 1024 bytes -> statistical guess (charset_normalizer) -> UTF-8 with replacement. lexbor would
only honour BOM and meta, and httpx only the HTTP header, so neither can be left to decide.

Labels are mapped onto the encodings the HTML Standard knows; anything else (bogus names, UTF-7,
Python's bytes-to-bytes "codecs" such as rot13 or base64) is ignored and the next step decides.
Returned names are Python codec names (e.g. "utf-8", "cp1251", "cp932", "gbk", "utf-16-le").
"""

from __future__ import annotations

import codecs
import re

__all__ = ["PRESCAN_BYTES", "decode_html", "normalise_label", "parser_input"]

PRESCAN_BYTES = 1024  # the HTML Standard's prescan window
DETECT_BYTES = 64 * 1024  # bound the detector's cost: it only ever sees this much

# Python codec names of the HTML Standard's encodings, and the substitutions it requires
# (latin-1 and ascii labels mean windows-1252; Shift_JIS is really windows-31j; and so on).
_ALIASES = {
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gbk",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
    "utf-16": "utf-16-le",
    # What the detector may name: close relatives of a standard encoding.
    "euc_jis_2004": "euc_jp",
    "euc_jisx0213": "euc_jp",
    "shift_jis_2004": "cp932",
    "shift_jisx0213": "cp932",
    "johab": "cp949",
}
_ALLOWED = frozenset(
    {
        "utf-8",
        "cp866",
        "iso8859-2",
        "iso8859-3",
        "iso8859-4",
        "iso8859-5",
        "iso8859-6",
        "iso8859-7",
        "iso8859-8",
        "iso8859-10",
        "iso8859-13",
        "iso8859-14",
        "iso8859-15",
        "iso8859-16",
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        "cp874",
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "cp1258",
        "gbk",
        "gb18030",
        "big5hkscs",
        "euc_jp",
        "iso2022_jp",
        "cp932",
        "cp949",
        "utf-16-be",
        "utf-16-le",
    }
)
# WHATWG labels that Python's codec registry does not know.
_EXTRA_LABELS = {
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "windows-31j": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "iso-8859-8-i": "iso8859-8",
    "x-gbk": "gbk",
    "x-cp1250": "cp1250",
    "x-cp1251": "cp1251",
    "x-cp1252": "cp1252",
    "unicode": "utf-16-le",
    "unicodefeff": "utf-16-le",
}
_label_cache: dict[str, str | None] = {}

# One <meta ...> tag; the charset is either its own attribute or inside content="...; charset=X".
# Applied to at most 1024 bytes, comments removed first, so the cost is bounded.
_META = re.compile(rb"<meta[\s/][^>]*>", re.IGNORECASE)
_CHARSET_ATTR = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:+\-]+)""", re.IGNORECASE)
_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.DOTALL)


def normalise_label(label: str | None) -> str | None:
    """The codec to use for an encoding label, or None when the label is unknown or unsafe."""
    if not label:
        return None
    cached = _label_cache.get(label)
    if cached is not None or label in _label_cache:
        return cached
    key = label.strip().strip("\"'").lower()
    key = _EXTRA_LABELS.get(key, key)
    try:
        name = codecs.lookup(key).name
    except (LookupError, ValueError):
        name = None
    if name is not None:
        name = _ALIASES.get(name, name)
        if name not in _ALLOWED:
            name = None
    if len(_label_cache) < 512:  # labels come from servers: do not let them grow the cache forever
        _label_cache[label] = name
    return name


def _bom(body: bytes) -> tuple[str, int] | None:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if body.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if body.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    return None


def _prescan(head: bytes) -> str | None:
    if b"<" not in head:
        return None
    lowered = head.lower()
    if b"<meta" not in lowered:
        return None
    if b"<!--" in head:
        head = _COMMENT.sub(b"", head)
    for tag in _META.finditer(head):
        match = _CHARSET_ATTR.search(tag.group(0))
        if match is None:
            continue
        name = normalise_label(match.group(1).decode("ascii"))
        if name is None:
            continue  # a bogus label: the standard keeps scanning
        # A meta tag readable as ASCII cannot be in UTF-16: the standard says use UTF-8.
        if name.startswith("utf-16"):
            return "utf-8"
        return name
    return None


def _is_utf8(body: bytes) -> bool:
    """Valid UTF-8, tolerating a multi-byte sequence cut at the end (bodies are byte-capped)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _guess(body: bytes) -> str | None:
    # Imported on first use: charset_normalizer is heavy to import and rarely needed.
    from charset_normalizer import from_bytes

    # Candidates come best first; take the first that is an encoding the HTML Standard knows.
    # preemptive_behaviour=False: charset_normalizer would otherwise trust a <meta> it finds
    # anywhere in the first KBs, which the prescan (1024 bytes) has already ruled out on purpose.
    for match in from_bytes(body[:DETECT_BYTES], preemptive_behaviour=False):
        name = normalise_label(match.encoding)
        if name is not None:
            return name
    return None


def decode_html(body: bytes, content_type_charset: str | None) -> tuple[str, str]:
    """Decode an HTML body; return (text, the codec name chosen). Never raises on bad bytes."""
    markup, name = parser_input(body, content_type_charset)
    return (markup.decode(name) if isinstance(markup, bytes) else markup), name


def parser_input(body: bytes, content_type_charset: str | None) -> tuple[str | bytes, str]:
    """What to give the HTML parser for `body`, and the codec name chosen (as `decode_html`).

    lexbor reads bytes as UTF-8, and text is encoded to UTF-8 before it reaches lexbor: so a body
    that is valid UTF-8 (no BOM) is passed as it is, the same document as its decoded text,
    without a decode here and an encode in the parser. Anything else is decoded text.
    """
    bom = _bom(body)
    if bom is not None:
        bom_name, skip = bom
        return body[skip:].decode(bom_name, "replace"), bom_name
    name = normalise_label(content_type_charset)
    if name is None:
        name = _prescan(body[:PRESCAN_BYTES])
    if name is None or name == "utf-8":
        if body.isascii() or _valid_utf8(body):
            return body, "utf-8"
        if name is None:
            # Invalid somewhere: UTF-8 still when only the last sequence is cut (byte caps).
            name = "utf-8" if _is_utf8(body) else _guess(body) or "utf-8"
    return body.decode(name, "replace"), name


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
