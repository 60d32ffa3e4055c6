"""What a file that no decoder opens is, from its first bytes, in the analyst's words: a web page saved or
served where a video was expected (a share link to a video's page, a login or error page), or some other
text; and whether a WebP is an animation. Pure: bytes in, words out."""

from __future__ import annotations

SNIFF_BYTES = 1024
_HTML_MARKS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<script", b"<title")


def text_kind(head: bytes) -> str:
    """What the first bytes of a file (at most SNIFF_BYTES are read) say it is when they are text: "a web
    page (HTML)", "an XML document", "a JSON document", "a text file"; "" for anything else (binary data,
    which the decoder's own reason describes better)."""
    head = head[:SNIFF_BYTES]
    if not head or b"\0" in head:
        return ""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut by the SNIFF_BYTES boundary
            return ""
        text = head[:exc.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    if any(not (c.isprintable() or c in "\t\n\r\f") for c in text):
        return ""
    start = text.lstrip(" \t\r\n").lower().encode()
    if start.startswith(_HTML_MARKS) or any(mark in start for mark in (b"<html", b"<!doctype html")):
        return "a web page (HTML)"
    if start.startswith(b"<?xml") or start.startswith(b"<"):
        return "an XML document"
    if start[:1] in (b"{", b"["):
        return "a JSON document"
    return "a text file"


def is_animated_webp(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an animated WebP: a RIFF WEBP file whose first chunk is the
    extended header (VP8X) with its animation flag set (the WebP container specification)."""
    return head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and len(head) > 20 and bool(head[20] & 0x02)
