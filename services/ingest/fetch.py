"""Getting a video's bytes onto local disk: http(s) downloads with size and time caps and a guard
against internal addresses, or local paths kept under an allowed root. Returns a path and its hash."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

CHUNK = 1 << 20


class FetchError(Exception):
    """The video could not be fetched; the message says why in a user's words."""


@dataclass
class Fetched:
    path: Path
    sha256: str
    size: int
    temporary: bool

    @property
    def video_id(self) -> str:
        return self.sha256[:16]

    def release(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout_s: float
    allow_private: bool = False
    allowed_root: Path | None = None
    tmp_dir: Path | None = None


def is_remote(url: str) -> bool:
    return urlparse(url).scheme.lower() in ("http", "https")


def _check_host(url: str, allow_private: bool) -> None:
    host = urlparse(url).hostname
    if not host:
        raise FetchError(f"{url}: no host in URL")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise FetchError(f"{url}: cannot resolve host {host!r}") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
            raise FetchError(f"{url}: refusing internal address {addr} (set INFLUENCERS_ALLOW_PRIVATE_URLS=1 "
                             "to allow)")


def _hash_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _reason(exc: requests.RequestException, policy: FetchPolicy) -> str:
    if isinstance(exc, requests.Timeout):
        return f"no answer within {policy.timeout_s:g} s (timed out)"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect to the server"
    return f"download failed ({exc.__class__.__name__})"


def fetch(url: str, base_dir: Path, policy: FetchPolicy) -> Fetched:
    parsed = urlparse(url)
    if is_remote(url):
        return _download(url, policy)
    if parsed.scheme and len(parsed.scheme) > 1 and parsed.scheme != "file":
        raise FetchError(f"{url}: unsupported URL scheme {parsed.scheme!r} (use http, https or a path)")
    raw = parsed.path if parsed.scheme == "file" else url
    path = Path(raw).expanduser()
    path = (path if path.is_absolute() else base_dir / path).resolve()
    if policy.allowed_root is not None and not path.is_relative_to(policy.allowed_root.resolve()):
        raise FetchError(f"{url}: outside the allowed folder {policy.allowed_root}")
    if not path.is_file():
        raise FetchError(f"{url}: file not found")
    size = path.stat().st_size
    if size == 0:
        raise FetchError(f"{url}: file is empty (0 bytes)")
    if size > policy.max_bytes:
        raise FetchError(f"{url}: {size} bytes is more than the limit of {policy.max_bytes}")
    digest, _ = _hash_file(path)
    return Fetched(path, digest, size, temporary=False)


def _download(url: str, policy: FetchPolicy) -> Fetched:
    deadline = time.monotonic() + policy.timeout_s * 4
    current = url
    with requests.Session() as session:
        for _ in range(6):
            _check_host(current, policy.allow_private)
            try:
                resp = session.get(current, stream=True, timeout=policy.timeout_s, allow_redirects=False)
            except requests.RequestException as exc:
                raise FetchError(f"{url}: {_reason(exc, policy)}") from exc
            if resp.is_redirect:
                nxt = urljoin(current, resp.headers.get("location", ""))
                resp.close()
                if not is_remote(nxt):
                    raise FetchError(f"{url}: redirected to a non-http URL")
                current = nxt
                continue
            break
        else:
            raise FetchError(f"{url}: too many redirects")
        with resp:
            if resp.status_code != 200:
                raise FetchError(f"{url}: HTTP {resp.status_code}")
            declared = int(resp.headers.get("content-length") or 0)
            if declared > policy.max_bytes:
                raise FetchError(f"{url}: {declared} bytes is more than the limit of {policy.max_bytes}")
            h = hashlib.sha256()
            size = 0
            fd, name = tempfile.mkstemp(prefix="video-", suffix=".mp4", dir=policy.tmp_dir)
            tmp = Path(name)
            try:
                with open(fd, "wb") as out:
                    for chunk in resp.iter_content(CHUNK):
                        size += len(chunk)
                        if size > policy.max_bytes:
                            raise FetchError(f"{url}: more than the limit of {policy.max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise FetchError(f"{url}: download took longer than {policy.timeout_s * 4:.0f} s")
                        h.update(chunk)
                        out.write(chunk)
                if size == 0:
                    raise FetchError(f"{url}: empty response (0 bytes)")
            except requests.RequestException as exc:
                tmp.unlink(missing_ok=True)
                raise FetchError(f"{url}: {_reason(exc, policy)}") from exc
            except FetchError:
                tmp.unlink(missing_ok=True)
                raise
    return Fetched(tmp, h.hexdigest(), size, temporary=True)

