"""A file's bytes as text: UTF-8, UTF-16/32 by their byte order mark, an HTML page's declared
charset, else Windows-1252/Latin-1 with a warning; binary refused."""

from __future__ import annotations

import codecs
import logging
import re
from contextlib import suppress

from qa.errors import DocumentError

logger = logging.getLogger(__name__)

_BOMS = (  # UTF-32's little-endian mark begins with UTF-16's: it is tried first
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(data: bytes) -> str | None:
    """The encoding an HTML page declares in its first 4 KiB (``<meta charset>`` or the
    ``http-equiv`` content type), when Python knows it."""
    found = _DECLARED_CHARSET.search(data[:4096])
    if found is None:
        return None
    try:
        return codecs.lookup(found.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


def decode_text(data: bytes, path: str, declared: str | None = None) -> str:
    """UTF-8, or UTF-16/32 by their byte order mark; else the encoding the file ``declared`` (an HTML
    page's charset), else Windows-1252/Latin-1 with a warning; binary is refused."""
    if not data.strip():
        raise DocumentError(path, "empty file")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise DocumentError(path, f"not valid {codec.upper()} after its byte order mark") from None
    if b"\x00" in data[:8192]:
        raise DocumentError(path, "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if declared is not None and declared != "utf-8":
        with suppress(UnicodeDecodeError):
            return data.decode(declared)
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > len(text[:8192]) // 20:
        raise DocumentError(path, "binary file (not decodable as text)")
    logger.warning("%s: not valid UTF-8, decoded as Windows-1252/Latin-1", path)
    return text


def decode_lines(data: bytes, source: str) -> str:
    """JSON Lines decoded line by line, so one line in another encoding spoils no other line."""
    if not data.strip():
        raise DocumentError(source, "empty file")
    lines: list[str] = []
    fallback: list[int] = []
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            fallback.append(number)
            lines.append(raw.decode("latin-1"))  # never fails; such a line rarely parses anyway
    if fallback:
        logger.warning(
            "%s: %d line(s) not valid UTF-8 (first: line %d), decoded as Latin-1",
            source,
            len(fallback),
            fallback[0],
        )
    return "\n".join(lines)
