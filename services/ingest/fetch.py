"""Getting a video's bytes onto local disk: http(s) downloads with size and time caps and a guard
against internal addresses, or local regular files kept under an allowed root. Returns a path and its hash.

Every failure, whatever raised it, is a FetchError whose one-line message starts with the URL as given.
The network parts: `netguard` (URL parsing and the address rule), `pinned_http` (the connection and the
deadline), `http_wire` (strict response framing), `content_coding` (a gzip or deflate body decoded, capped).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import os
import re
import ssl
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from services.common.boundary import escaped
from services.common.damage import DISK_FULL, DiskFull, check_room
from services.common.file_kind import file_kind
from services.common.url_scheme import is_scheme_relative
from services.common.url_secrets import secrets_hidden
from services.ingest import content_coding
from services.ingest.http_wire import BadResponse, ByteRange, Head, content_length, partial_range, status_problem
from services.ingest.netguard import (
    IPAddress,
    Refused,
    Resolver,
    Target,
    has_scheme,
    join_url,
    parse_url,
    resolve_checked,
    shown_host,
    system_resolver,
)
from services.ingest.pinned_http import CannotConnect, Connection, Deadline, call_before, open_connection

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MAX_REDIRECTS = 5
MAX_PARTS = 16  # answers to one download when the server sends the file in parts (206), the first included
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
SHOWN_URL_CHARS = 200  # of a URL named in an error message
CHECK_EVERY_BYTES = 8 << 20  # of a download written before the disk's free space is looked at again
# `C:\videos\a.mp4`, `C:/...`, `file:///C:/...` (as Windows writes a file URL), `\\server\share\...`
_WINDOWS_ABSOLUTE = re.compile(r"(?:[Ff][Ii][Ll][Ee]:/*)?[A-Za-z]:[\\/]|\\\\")
# `www.x/a` (a link without its scheme and its `//`: `//cdn.x/a` is refused before any path is read, SCHEME_RELATIVE)
_SCHEMELESS_WEB = re.compile(r"www\d*\.[^/\s]+/", re.IGNORECASE)
# `https//cdn.x/a`, `http;//cdn.x/a`: a scheme mistyped; `cdn.example.com/a.mp4`: a first folder named as a host is
# (labels, the last of letters), which a local folder may be too (`my.videos/`), so the hint is hedged.
_MISTYPED_SCHEME = re.compile(r"https?[^A-Za-z0-9/:]?//", re.IGNORECASE)
_HOST_LIKE_FOLDER = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?::[0-9]{1,5})?/")


# A link without its scheme (`//cdn.example.com/v.mp4`) is fetched from neither place it may mean: its scheme is the
# page's it was copied from (http or https), and Linux reads it as the path `/cdn.example.com/v.mp4`, a file the
# analyst did not mean. Was: read as that path ("file not found"), its key keeping the link's token.
SCHEME_RELATIVE = ("a link without its scheme is not fetched: write it whole, with its https:// (a path on this "
                   "machine starts with one /)")


class FetchError(Exception):
    """The video could not be fetched; the message says why in a user's words."""


@dataclass
class Fetched:
    path: Path
    sha256: str
    size: int  # bytes
    temporary: bool
    encoding: str = ""  # the answer's Content-Encoding when it is none decoded here (the bytes are kept as sent)

    @property
    def video_id(self) -> str:
        return self.sha256[:16]

    def release(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetch: `max_bytes` of video, `timeout_s` seconds of wall clock for a whole download
    (every redirect, headers and body). `resolver` maps a host name to addresses (default: the system's);
    tests inject one to decide about addresses without connecting anywhere. `min_free_bytes`: the room a download
    leaves free on the disk of `tmp_dir` (settings.min_free_bytes; 0: none)."""

    max_bytes: int
    timeout_s: float
    allow_private: bool = False
    allowed_root: Path | None = None
    tmp_dir: Path | None = None
    resolver: Resolver | None = None
    min_free_bytes: int = 0


def is_remote(url: str) -> bool:
    return has_scheme(url) in ("http", "https")


def fetch(url: str, base_dir: Path, policy: FetchPolicy) -> Fetched:
    """Fetches `url` (http(s) URL, file: URL or path relative to `base_dir`).

    Raises FetchError, whose one-line message is the URL, a colon and the reason, whatever failed.
    """
    try:
        if is_remote(url):
            return _download(url, policy)
        if is_scheme_relative(url):
            raise _Failed(SCHEME_RELATIVE)
        return _local(url, base_dir, policy)
    except Exception as exc:  # recorded against the row by the caller: no input may end the batch
        raise FetchError(escaped(f"{shown_url(url)}: {_reason(exc, policy)}")) from exc


def local_path(url: str, base_dir: Path) -> Path:
    """The absolute, resolved path a local `url` (a path relative to `base_dir`, or a `file:` URL) stands
    for, as fetch() reads it; FetchError naming the URL when it stands for none (a NUL byte, `~user` of an
    unknown user, a symlink loop, another scheme)."""
    try:
        return _local_path(url, base_dir)
    except _Failed as exc:
        raise FetchError(escaped(f"{shown_url(url)}: {exc}")) from exc


def shown_url(url: str) -> str:
    """`url` as an error message names it: no user name or password (`***@`) nor signature, token or key
    (`X-Amz-Signature=***`, url_secrets), cut to SHOWN_URL_CHARS characters (a manifest cell may hold
    100,000), control characters escaped (a terminal shows the message)."""
    url = secrets_hidden(url)
    return escaped(url if len(url) <= SHOWN_URL_CHARS else f"{url[:SHOWN_URL_CHARS]}… ({len(url)} chars)")


class _Failed(Exception):
    """A failure's reason in a user's words, without the URL (fetch adds it)."""


def _reason(exc: Exception, policy: FetchPolicy) -> str:
    if isinstance(exc, _Failed | Refused | BadResponse):
        return str(exc)
    if isinstance(exc, CannotConnect):
        return f"cannot connect to the server ({exc})"
    if isinstance(exc, TimeoutError):
        return f"no answer within {policy.timeout_s:g} s (timed out)"
    if isinstance(exc, OSError):  # reset, broken pipe, TLS error after the handshake
        return f"connection lost ({exc.strerror or exc.__class__.__name__})"
    return f"fetch failed ({exc.__class__.__name__}: {exc})"


def _local_path(url: str, base_dir: Path) -> Path:
    scheme = has_scheme(url)
    if scheme is not None and scheme != "file":
        # `cdn.example.com:8080/a.mp4` reads as the scheme `cdn.example.com`: a host and port without `https://`.
        host_like = "." in scheme or scheme == "localhost"
        port_next = host_like and re.match(r"[0-9]{1,5}(?:[/?#]|$)", url[len(scheme) + 1:])
        hint = "read as a scheme: a web address is given whole, with its https://" if port_next else \
            "use http, https or a path"
        raise _Failed(f"unsupported URL scheme {shown_host(scheme)} ({hint})")
    raw = _file_url_path(url) if scheme == "file" else url
    if "\0" in raw:
        raise _Failed("invalid path (NUL character)")
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # ~name of no user, or no home folder
        user = raw.split("/", 1)[0]
        raise _Failed(f"invalid path ({escaped(user[:40])!r}: no such user's home folder)") from None
    try:
        resolved = (path if path.is_absolute() else base_dir / path).resolve()
        if not os.path.lexists(resolved):
            return _other_normal_form(path, base_dir) or _windows_separators(raw, base_dir) or resolved
        return resolved
    except (OSError, RuntimeError, ValueError) as exc:  # symlink loop, name too long
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _Failed(f"invalid path ({reason[:80]})") from exc


def _other_normal_form(path: Path, base_dir: Path) -> Path | None:
    """The resolved path of the file `path` names with its names in the other Unicode form, when that one exists:
    a manifest typed or exported composed (NFC: `café.mp4`) naming files copied from a Mac, whose names are
    decomposed (NFD: `cafe` and U+0301), or the other way round. Linux keeps both as different names. Each
    name along the path is looked up as given, then in either form: a folder made on a Mac (NFD) can hold a
    file named on Linux (NFC)."""
    full = path if path.is_absolute() else base_dir / path
    found = Path(full.anchor)
    for name in full.parts[1:]:
        for spelling in dict.fromkeys((name, unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name))):
            if os.path.lexists(found / spelling):
                found /= spelling
                break
        else:
            return None
    return found.resolve() if found != full else None


def _windows_separators(raw: str, base_dir: Path) -> Path | None:
    """The resolved path of the file `raw` names with its backslashes read as separators, when that one exists and
    the name as given does not: a manifest written on Windows (`videos\\a.mp4`). Linux reads a backslash as a
    character of a name, so the name as given is looked up first."""
    if "\\" not in raw:
        return None
    path = Path(raw.replace("\\", "/")).expanduser()
    full = path if path.is_absolute() else base_dir / path
    return full.resolve() if os.path.lexists(full) else _other_normal_form(path, base_dir)


def _not_found(url: str) -> str:
    """"file not found", with what the location looks like when it is no path of this machine: a Windows drive
    or network share, or a web address without its `https://`; or, for a relative path, where it was read from."""
    if _WINDOWS_ABSOLUTE.match(url):
        return "file not found (a Windows path: give the file's path on this machine, or one relative to the " \
               "manifest's folder)"
    if _SCHEMELESS_WEB.match(url) or _MISTYPED_SCHEME.match(url):
        return "file not found (read as a path: a web address is given whole, with its https://)"
    if _HOST_LIKE_FOLDER.match(url):
        return "file not found (a relative path is read from the manifest's folder; a web address is given whole, " \
               "with its https://)"
    if not Path(url).is_absolute() and not url.lower().startswith(("file:", "~")):
        # The row's reader sees only what the manifest says: where a relative path was looked for is the fix.
        return "file not found (a relative path is read from the manifest's folder)"
    return "file not found"


def file_url_path(url: str) -> str | None:
    """The path a `file:` URL names, as fetch() reads it; None for one fetch() refuses (another host's file,
    %-escapes that are not UTF-8)."""
    try:
        return _file_url_path(url)
    except _Failed:
        return None


def _file_url_path(url: str) -> str:
    """The path a `file:` URL names (RFC 8089): percent-decoded (`a%20b.mp4` is `a b.mp4`); a host other than
    none or `localhost` is another machine's file, refused."""
    parts = urlparse(url)
    if parts.netloc.lower() not in ("", "localhost"):
        raise _Failed(f"a file URL of another host ({escaped(parts.netloc[:80])!r}): give a path on this machine")
    try:
        return unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        raise _Failed("invalid path (its %-escapes are not UTF-8)") from None


def _local(url: str, base_dir: Path, policy: FetchPolicy) -> Fetched:
    path = _local_path(url, base_dir)
    if policy.allowed_root is not None and not path.is_relative_to(policy.allowed_root.resolve()):
        raise _Failed(f"outside the allowed folder {policy.allowed_root}")
    try:
        # O_NONBLOCK: opening a FIFO swapped in after any check must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise _Failed(_not_found(url)) from exc
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO without writer
            raise _Failed("not a regular file (socket or FIFO)") from exc
        raise _Failed(f"cannot open file ({exc.strerror})") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = file_kind(info.st_mode, folder="a directory")
        raise _Failed(f"not a regular file ({kind})")
    with open(fd, "rb") as f:
        size = info.st_size
        if size == 0:
            raise _Failed("file is empty (0 bytes)")
        if size > policy.max_bytes:
            raise _Failed(f"{size} bytes is more than the limit of {policy.max_bytes}")
        h = hashlib.sha256()
        read = 0
        try:
            while chunk := f.read(CHUNK):
                read += len(chunk)
                if read > policy.max_bytes:
                    raise _Failed(f"more than the limit of {policy.max_bytes} bytes (file grew)")
                h.update(chunk)
        except OSError as exc:
            raise _Failed(f"cannot read file ({exc.strerror})") from exc
    return Fetched(path, h.hexdigest(), read, temporary=False)

    return "a special file"


def _download(url: str, policy: FetchPolicy) -> Fetched:
    deadline = Deadline(policy.timeout_s)
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            nxt = _get(current, policy, deadline)
            if isinstance(nxt, Fetched):
                return nxt
            if has_scheme(nxt) not in ("http", "https"):
                raise _Failed(f"redirected to a non-http URL ({shown_url(nxt)}): only http and https are followed")
            current = nxt
        raise _Failed(f"too many redirects (more than {MAX_REDIRECTS})")
    except Refused as exc:
        if current == url:
            raise
        raise _Failed(f"{exc} (redirected to {shown_url(current)})") from exc


def _get(url: str, policy: FetchPolicy, deadline: Deadline) -> Fetched | str:
    """One hop: the video, or the URL a redirect points to."""
    target = parse_url(url)
    resolver = policy.resolver or system_resolver
    addresses = call_before(deadline, lambda: resolve_checked(target, policy.allow_private, resolver))
    tls = _tls_context() if target.scheme == "https" else None
    with open_connection(target, addresses, deadline, tls) as conn:
        head = conn.request_head(target)
        if head.status in REDIRECT_STATUSES:
            location = head.get("location")
            if not location:
                raise BadResponse(f"HTTP {head.status} redirect without a Location")
            if len(set(head.all("location"))) > 1:  # which one a client follows differs (browsers refuse, as here)
                shown = ", ".join(shown_url(_utf8(v)) for v in head.all("location")[:3])
                raise BadResponse(f"HTTP {head.status} redirect with {len(head.all('location'))} different "
                                  f"Locations ({shown}): ambiguous, not followed")
            return join_url(target, _utf8(location))
        # Asked for whole (no Range is sent), a 206 is a part of the file from its start: the file itself when
        # it holds it all, as some servers and CDNs answer every GET; else the rest is asked for (_rest).
        part = partial_range(head, 0, None) if head.status == 206 else None
        if head.status not in (200, 206):
            raise BadResponse(status_problem(head.status, head.get("retry-after")))
        if part is not None and part.complete > policy.max_bytes:
            raise BadResponse(f"{part.complete} bytes is more than the limit of {policy.max_bytes}")
        spool = _Spool(policy.tmp_dir, policy.min_free_bytes)
        try:
            _take(conn, head, part, spool, policy)
        except BaseException:
            spool.discard()
            raise
    try:
        if spool.size == 0:
            raise BadResponse("empty response (0 bytes)")
        if part is not None and spool.size < part.complete:
            head = _rest(target, _Pinned(addresses, tls, deadline), head, part.complete, spool, policy)
        spool.close()
    except BaseException:
        spool.discard()
        raise
    codings = content_coding.codings(", ".join(head.all("content-encoding")))
    if len(codings) == 1 and codings[0] in content_coding.DECODED:
        if (decoded := _decoded(spool, codings[0], policy)) is not None:
            return decoded
        log.info("%s: labelled Content-Encoding: %s, but its bytes are not: kept as sent", shown_url(url), codings[0])
        codings = []
    return Fetched(spool.path, spool.hash.hexdigest(), spool.size, temporary=True,
                   encoding=escaped(", ".join(codings)[:40]))


def _decoded(spool: _Spool, coding: str, policy: FetchPolicy) -> Fetched | None:
    """The file a body sent in `coding` (gzip or deflate) stands for: decoded as a stream into a spool of its own, at
    most `policy.max_bytes` bytes (a gzip bomb stops there), hashed as decoded, so that a compressed and a plain copy
    of one file are one video; the body's spool is removed. None, the body's spool kept, when the body does not start
    in `coding`: a file labelled wrongly (a bucket object stored plain with `Content-Encoding: gzip`), the file
    itself."""
    out = _Spool(policy.tmp_dir, policy.min_free_bytes)
    try:
        with open(spool.path, "rb") as body:
            size = content_coding.decode(coding, body.read, out.write, policy.max_bytes)
        out.close()
    except content_coding.NotInCoding:
        out.discard()
        return None
    except content_coding.TooLarge:
        out.discard()
        spool.discard()
        raise _Failed(f"more than the limit of {policy.max_bytes} bytes once decompressed (the server sent "
                      f"{spool.size} bytes with Content-Encoding: {coding}; a compression bomb?)") from None
    except content_coding.CodingError as exc:
        out.discard()
        spool.discard()
        raise _Failed(f"the server sent it compressed (Content-Encoding: {coding}), and {exc}") from None
    except OSError as exc:  # reading the body back from the disk it was written to: not the network's fault
        out.discard()
        spool.discard()
        raise _Failed(f"cannot read the download back from disk ({exc.strerror})") from exc
    except BaseException:
        out.discard()
        spool.discard()
        raise
    spool.discard()
    if size == 0:
        out.discard()
        raise BadResponse(f"empty response (0 bytes once decompressed from Content-Encoding: {coding})")
    return Fetched(out.path, out.hash.hexdigest(), size, temporary=True)


@dataclass(frozen=True)
class _Pinned:
    """Where a hop's connections go: its checked addresses, TLS context and the download's deadline."""

    addresses: Sequence[IPAddress]
    tls: ssl.SSLContext | None
    deadline: Deadline


def _rest(target: Target, pinned: _Pinned, first: Head, complete: int, spool: _Spool, policy: FetchPolicy) -> Head:
    """Asks for the rest of a file of `complete` bytes whose first answer (`first`) was a part of it: a Range
    request from the first byte not yet here, to the same checked address, each answer a part that must start
    there (`partial_range`), until the file is whole or MAX_PARTS answers came. If-Range carries the first
    answer's strong ETag, else its Last-Modified, so that a file changed meanwhile comes whole (200) and is
    taken instead of what came; an answer naming another ETag or Last-Modified fails. Returns the head of the
    answer the file's first byte came in (its Content-Encoding is the file's)."""
    validator = _if_range(first)
    for _ in range(MAX_PARTS - 1):
        start = spool.size
        headers = [("Range", f"bytes={start}-")] + ([("If-Range", validator)] if validator else [])
        with open_connection(target, pinned.addresses, pinned.deadline, pinned.tls) as conn:
            head = conn.request_head(target, headers)
            if head.status == 200:  # the Range ignored, or the file changed (If-Range): the whole file, anew
                spool.restart()
                _take(conn, head, None, spool, policy)
                if spool.size == 0:
                    raise BadResponse("empty response (0 bytes)")
                return head
            if head.status != 206:
                problem = status_problem(head.status, head.get("retry-after"))
                raise BadResponse(f"{problem}, where the rest of the file (bytes {start}-) was asked for")
            part = partial_range(head, start, complete)
            _same_file(first, head, start)
            _take(conn, head, part, spool, policy)
        if spool.size == complete:
            return first
    raise BadResponse(f"the server sent the file in more than {MAX_PARTS} parts ({spool.size} of its {complete} "
                      f"bytes came)")


def _take(conn: Connection, head: Head, part: ByteRange | None, spool: _Spool, policy: FetchPolicy) -> None:
    """Reads an answer's body into `spool`; a part's body must be as long as its Content-Range states: a longer
    Content-Length is refused before its body is read, a longer body of no stated length once it passes the part."""
    write = spool.write
    if part is not None:
        declared = content_length(head, policy.max_bytes - spool.size)
        if declared is not None and declared > part.length:
            raise BadResponse(f"the server sent a Content-Length of {declared} bytes for the {part.length} its "
                              f"Content-Range states (bytes {part.first}-{part.last})")
        write = _at_most(part, spool.write)
    before = spool.size
    try:
        size = conn.stream_body(head, policy.max_bytes - spool.size, write)
    except TimeoutError:
        raise _Failed(_unfinished(policy.timeout_s, spool.size, before, head, part)) from None
    if part is not None and size < part.length:
        raise BadResponse(f"incomplete download ({size} of the {part.length} bytes its Content-Range states)")


def _unfinished(timeout_s: float, size: int, before: int, head: Head, part: ByteRange | None) -> str:
    """Why a download whose body was still coming at the deadline failed: the answer had come (it was "no answer
    within N s"), its bytes had not all, and how many had (`size`, of the file's length when stated)."""
    if part is not None:
        of = f" of {part.complete}"
    else:
        try:
            stated = content_length(head, 1 << 62)
        except BadResponse:
            stated = None
        of = f" of {before + stated}" if stated is not None else ""
    return (f"not downloaded within {timeout_s:g} s (timed out after {size}{of} bytes: the server sends too slowly, "
            "or without end)")


def _at_most(part: ByteRange, write: Callable[[bytes], object]) -> Callable[[bytes], object]:
    """`write`, refusing the bytes of a part's body past the length its Content-Range states."""
    taken = 0

    def capped(data: bytes) -> None:
        nonlocal taken
        taken += len(data)
        if taken > part.length:
            raise BadResponse(f"the server sent more than the {part.length} bytes its Content-Range states "
                              f"(bytes {part.first}-{part.last})")
        write(data)

    return capped


def _if_range(head: Head) -> str | None:
    """The validator of the file a first answer was part of, for If-Range: its ETag when strong (RFC 9110
    allows no weak one there), else its Last-Modified; None when it has neither."""
    etag = head.get("etag")
    if etag and not etag.startswith("W/"):
        return etag
    return head.get("last-modified")


def _same_file(first: Head, later: Head, start: int) -> None:
    """BadResponse when a later part (from byte `start`) is of another version of the file than the first part: another
    ETag or Last-Modified, one stated by one part and not by the other (but a Last-Modified a later part leaves
    out, as RFC 9110 allows: the If-Range it answered held the first part's), or another Content-Encoding (the parts are
    bytes of the coded file: a part in another coding, or none, is another file's), so that no bytes of two versions
    are joined."""
    for name, shown in (("etag", "ETag"), ("last-modified", "Last-Modified"), ("content-encoding", "Content-Encoding")):
        was, now = ", ".join(first.all(name)), ", ".join(later.all(name))
        if name == "content-encoding":
            was, now = ", ".join(content_coding.codings(was)), ", ".join(content_coding.codings(now))
        if name == "last-modified" and was and not now:
            continue  # RFC 9110 (15.3.7) has a 206 repeat the ETag, not Last-Modified: its If-Range vouched for it
        if was != now:
            raise BadResponse(f"the file changed on the server during the download ({shown} {_said(was)}, then "
                              f"{_said(now)}): its part from byte {start} is of another version, not joined to the "
                              "first")


def _said(value: str) -> str:
    return repr(escaped(value[:60])) if value else "none"


class _Spool:
    """The download's temporary file, its size in bytes and the SHA-256 of what was written to it. It never takes
    the last `min_free_bytes` of its disk, which the stores keep free (Edge maps its files: a write into a full disk
    is a SIGBUS): a download of 512 MB, or a server's endless body, filled the disk to its last byte."""

    def __init__(self, tmp_dir: Path | None, min_free_bytes: int = 0) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix="video-", suffix=".mp4", dir=tmp_dir)
        except OSError as exc:
            raise _unwritable(exc, Path(tmp_dir or tempfile.gettempdir())) from exc
        self.path = Path(name)
        self.file = open(fd, "wb")  # noqa: SIM115 - closed by close() or discard()
        self.hash = hashlib.sha256()
        self.size = 0
        self.min_free_bytes = min_free_bytes
        self._room = 0  # bytes that may still be written before the free space is looked at again

    def write(self, data: bytes) -> None:
        self._make_room(len(data))
        self.hash.update(data)
        self.size += len(data)
        try:
            self.file.write(data)
        except OSError as exc:  # not the network's fault: say so
            raise _unwritable(exc, self.path.parent) from exc

    def _make_room(self, size: int) -> None:
        """DISK_FULL when `size` more bytes would leave less than min_free_bytes free; the free space is looked at
        again once the room found last time (CHECK_EVERY_BYTES at most) is spent."""
        if not self.min_free_bytes:
            return
        if size > self._room:
            try:
                free = check_room(self.path.parent, self.min_free_bytes + size, "writing a download")
            except DiskFull as exc:
                raise _Failed(str(exc)) from None
            except OSError as exc:
                raise _unwritable(exc, self.path.parent) from exc
            self._room = min(free - self.min_free_bytes, max(CHECK_EVERY_BYTES, size))
        self._room -= size

    def restart(self) -> None:
        """Empties the file: what came is not part of the file that comes next."""
        try:
            self.file.seek(0)
            self.file.truncate()
        except OSError as exc:
            raise _unwritable(exc, self.path.parent) from exc
        self.hash = hashlib.sha256()
        self.size = 0

    def close(self) -> None:
        try:
            self.file.close()
        except OSError as exc:
            raise _unwritable(exc, self.path.parent) from exc

    def discard(self) -> None:
        with contextlib.suppress(OSError):  # the file goes anyway, and the download has failed already
            self.file.close()
        self.path.unlink(missing_ok=True)


def _unwritable(exc: OSError, folder: Path) -> _Failed:
    """Why the download cannot be written to `folder`. A full disk (or quota) starts with DISK_FULL, as the frame
    spool's and the stores' refusals do, so that ingest stops the job (every later row would fail the same way)
    and the same manifest resumes once there is room: it was one more failed row, every later row failing in turn."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _Failed(f"{DISK_FULL}: cannot write the download in {folder}: {exc.strerror}")
    return _Failed(f"cannot write the download to disk ({exc.strerror})")


def _utf8(value: str) -> str:
    """A header's value (read byte for byte as Latin-1) as the text its bytes spell in UTF-8 when they are UTF-8:
    servers send a redirect to an accented path with its bytes raw, in UTF-8, and browsers read them so (it was
    requested as the percent-encoding of mojibake: /vidÃ©o.mp4, a 404). Else as read."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's CA store, certificates and host names verified; built once (loading it takes ~60 ms)."""
    return ssl.create_default_context()
