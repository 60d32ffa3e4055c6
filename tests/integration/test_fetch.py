"""Fetching over real HTTP on loopback: caps, one deadline, pinned connections, redirects, hostile servers
(raw sockets sending what they like), and local files that are not regular files."""

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import ipaddress
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable

import pytest

from services.ingest.fetch import FetchError, FetchPolicy, fetch, local_path
from services.ingest.http_wire import BadResponse
from services.ingest.netguard import parse_url
from services.ingest.pinned_http import CannotConnect, Deadline, open_connection

PAYLOAD = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.hosts.append(self.headers.get("Host"))
        self.server.paths.append(self.path)
        if self.path in ("/ok.mp4", "/my%20clip%C3%A9.mp4", "/clips/ok.mp4"):
            self._send(200, PAYLOAD)
        elif self.path == "/slow.mp4":
            time.sleep(2.0)
            self._send(200, PAYLOAD)
        elif self.path == "/huge.mp4":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
        elif self.path == "/redirect":
            self._redirect("/ok.mp4")
        elif self.path == "/loop":
            self._redirect("/loop")
        elif self.path == "/to-accented":  # the Location's bytes in UTF-8, as most servers send them
            self._redirect("/my clipé.mp4".encode().decode("latin-1"))
        elif self.path == "/clips/today/latest":  # as object stores serve them: `..` would be a name of a key
            self._redirect("../../ok.mp4")
        elif self.path == "/to-scheme-only":  # `http:` without the authority's `//`: a browser opens /ok.mp4
            self._redirect("http:ok.mp4")
        elif self.path == "/clips/to-scheme-and-path":
            self._redirect("http:/ok.mp4")
        elif self.path == "/to-three-slashes":  # browsers and curl drop the extra slash
            self._redirect(f"http:///127.0.0.1:{self.server.server_port}/ok.mp4")
        elif self.path == "/to-backslashes":  # `\\host\path`: `//host/path` to browsers
            self._redirect(f"\\\\127.0.0.1:{self.server.server_port}\\clips\\ok.mp4")
        elif self.path == "/to-backslash-password":
            self._redirect(f"\\\\ann:hunter2@127.0.0.1:{self.server.server_port}\\ok.mp4")
        elif self.path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif self.path == "/to-data":
            self._redirect("data:video/mp4;base64,AAAAGGZ0eXBtcDQy")
        elif self.path == "/to-two-places":  # which a client follows differs: the first, the last, or none (Chrome)
            self.send_response(302)
            self.send_header("Location", "/ok.mp4")
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/to-other-name":
            self._redirect(f"http://other.example:{self.server.server_port}/ok.mp4")
        elif self.path == "/to-userinfo":
            self._redirect(f"http://evil.example@127.0.0.1:{self.server.server_port}/ok.mp4")
        elif self.path == "/to-decimal-ip":
            self._redirect(f"http://2130706433:{self.server.server_port}/ok.mp4")
        elif self.path == "/busy.mp4":
            self.send_response(429)
            self.send_header("Retry-After", "120")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/empty.mp4":
            self._send(200, b"")
        else:
            self._send(404, b"not here")

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture(scope="module")
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hosts = []
    server.paths = []
    server.handle_error = lambda request, address: None  # a client that gave up (the timeout test) is expected
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def base_url(web):
    return f"http://127.0.0.1:{web.server_port}"


POLICY = FetchPolicy(max_bytes=1_000_000, timeout_s=0.5, allow_private=True)


@pytest.fixture(autouse=True)
def downloads_in_the_tests_own_folder(tmp_path_factory, monkeypatch):
    """A policy without `tmp_dir` downloads into the system's temp folder, and most tests here keep their
    download without releasing it: each run left ~28 files in /tmp. They go to pytest's folders, which it prunes."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("system-temp")))


def test_a_download_is_hashed_and_removed_when_released(base_url, tmp_path):
    got = fetch(f"{base_url}/ok.mp4", tmp_path, POLICY)
    assert got.size == len(PAYLOAD) and len(got.video_id) == 16 and got.path.is_file()
    assert got.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    got.release()
    assert not got.path.exists()


def test_a_blank_or_an_accent_in_the_path_is_requested_percent_encoded_as_a_browser_does(base_url, tmp_path):
    assert fetch(f"{base_url}/my clipé.mp4", tmp_path, POLICY).size == len(PAYLOAD)


def test_a_backslash_in_a_links_path_is_a_slash_and_a_tab_or_line_break_is_refused_so_no_other_file_is_fetched(
        web, base_url, tmp_path):
    """Browsers (WHATWG URL) read a backslash in an http(s) link's path as `/` and drop tabs and line breaks: the page's
    link to `clips\\ok.mp4` opens /clips/ok.mp4, which is fetched (was refused: `backslash in URL`). A tab or line break
    is refused naming it (was: `whitespace or control character in URL` alone), as is a backslash in the host (which
    ends it for browsers alone); nothing is requested for them. A redirect to `\\\\host\\path` goes to that host."""
    web.paths.clear()
    assert fetch(f"{base_url}/clips\\ok.mp4", tmp_path, POLICY).size == len(PAYLOAD)
    assert fetch(f"{base_url}/to-backslashes", tmp_path, POLICY).size == len(PAYLOAD)
    assert web.paths == ["/clips/ok.mp4", "/to-backslashes", "/clips/ok.mp4"]
    at = len(base_url)
    for url, reason in ((f"{base_url}/o\tk.mp4", f"a tab at character {at + 3}, which browsers drop (remove it, or "
                                                   "write it %09 if the file's name holds it)"),
                        (f"{base_url}/ok.mp4\r\nX: 1", f"a line break (CR) at character {at + 8}, which browsers drop"),
                        (f"http://evil.example\\@127.0.0.1:{web.server_port}/ok.mp4", "backslash in the URL's host")):
        with pytest.raises(FetchError) as caught:
            fetch(url, tmp_path, POLICY)
        assert reason in str(caught.value)
    assert len(web.paths) == 3, "nothing requested for a refused link"
    # Was: joined as a path of this host and refused as `backslash in URL (redirected to http://HOST/\\ann:hunter2@...`,
    # the password in the row's error; read as browsers read it, it is a link with a password, refused and hidden.
    with pytest.raises(FetchError) as caught:
        fetch(f"{base_url}/to-backslash-password", tmp_path, POLICY)
    assert "user name or password in URL" in str(caught.value) and "hunter2" not in str(caught.value)
    assert f"(redirected to http://***@127.0.0.1:{web.server_port}/ok.mp4)" in str(caught.value)


def test_redirects_are_followed(base_url, tmp_path):
    assert fetch(f"{base_url}/redirect", tmp_path, POLICY).size == len(PAYLOAD)


def test_a_redirect_to_an_accented_path_in_utf8_bytes_is_followed_as_a_browser_does(base_url, tmp_path):
    assert fetch(f"{base_url}/to-accented", tmp_path, POLICY).size == len(PAYLOAD)


@pytest.mark.parametrize("path", ["/to-scheme-only", "/clips/to-scheme-and-path", "/to-three-slashes"])
def test_a_redirect_to_its_own_scheme_without_slashes_or_with_three_is_followed_as_a_browser_does(
        base_url, tmp_path, path):
    """`Location: http:ok.mp4` is `ok.mp4` beside the URL it came from, `http:/ok.mp4` the path /ok.mp4, and
    `http:///host/ok.mp4` the host's /ok.mp4, as browsers read them. Was: followed as written, and refused as `no host
    in URL (redirected to http:ok.mp4)`."""
    assert fetch(f"{base_url}{path}", tmp_path, POLICY).size == len(PAYLOAD)


def test_a_redirect_to_a_path_of_dot_segments_is_followed_to_the_path_they_lead_to_as_a_browser_does(
        base_url, tmp_path):
    """`Location: ../../ok.mp4` from /clips/today/latest is /ok.mp4; before, /clips/today/../../ok.mp4 was
    requested as written, which a server keeping names as keys (an object store) answers 404."""
    assert fetch(f"{base_url}/clips/today/latest", tmp_path, POLICY).size == len(PAYLOAD)
    assert fetch(f"{base_url}/clips/./today/../../ok.mp4", tmp_path, POLICY).size == len(PAYLOAD)
    # Dots escaped as %2e are dots, as a browser opening the link reads them (was requested as a name: 404).
    assert fetch(f"{base_url}/clips/%2e%2e/%2E/ok.mp4", tmp_path, POLICY).size == len(PAYLOAD)


@pytest.mark.parametrize("path,message", [
    ("/missing.mp4", "HTTP 404"),
    ("/slow.mp4", "no answer within 0.5 s (timed out)"),
    ("/huge.mp4", "1000000000 bytes is more than the limit of 1000000"),
    ("/loop", "too many redirects"),
    # The target named (was: "redirected to a non-http URL" alone), as a refused http one is.
    ("/to-file", "redirected to a non-http URL (file:///etc/passwd): only http and https are followed"),
    ("/to-data", "redirected to a non-http URL (data:video/mp4;base64,AAAAGGZ0eXBtcDQy): only http and https"),
    ("/to-two-places", "HTTP 302 redirect with 2 different Locations (/ok.mp4, http://169.254.169.254/latest/"
     "meta-data/): ambiguous, not followed"),
    ("/to-userinfo", "user name or password in URL"),
    ("/to-decimal-ip", "ambiguous numeric host '2130706433'"),
    ("/empty.mp4", "empty response (0 bytes)"),
    ("/busy.mp4", "HTTP 429 (too many requests: the server asks to wait 120 s; run the manifest again then)"),
])
def test_bad_downloads_fail_with_a_message_naming_the_url(base_url, tmp_path, path, message):
    # Only the slow answer is about the deadline: the others get one a busy machine cannot pass (six hops of
    # the redirect loop took over 0.5 s beside a compiler).
    policy = POLICY if path == "/slow.mp4" else dataclasses.replace(POLICY, timeout_s=10)
    with pytest.raises(FetchError, match=re.escape(message)) as err:
        fetch(f"{base_url}{path}", tmp_path, policy)
    assert str(err.value).startswith(f"{base_url}{path}: ")


def test_loopback_and_private_addresses_are_refused_unless_allowed(base_url, tmp_path):
    strict = FetchPolicy(max_bytes=1_000_000, timeout_s=0.5)
    with pytest.raises(FetchError, match=r"refused: loopback address 127\.0\.0\.1 \(an internal address"):
        fetch(f"{base_url}/ok.mp4", tmp_path, strict)
    with pytest.raises(FetchError, match=r"refused: private address 10\.1\.2\.3 \(an internal address"):
        fetch("http://10.1.2.3/x.mp4", tmp_path, strict)


class CountingResolver:
    """Resolves every name to loopback and counts the look-ups."""

    def __init__(self):
        self.calls = []

    def __call__(self, host, port):
        self.calls.append(host)
        return ["127.0.0.1"]


def test_a_name_is_resolved_once_and_the_connection_goes_to_that_address_with_the_name_as_host(web, tmp_path):
    resolver = CountingResolver()
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=2, allow_private=True, resolver=resolver)
    web.hosts.clear()
    got = fetch(f"http://Video.Example.:{web.server_port}/ok.mp4", tmp_path, policy)
    assert got.size == len(PAYLOAD)
    assert resolver.calls == ["video.example"]
    assert web.hosts == [f"video.example:{web.server_port}"]


def test_each_redirect_hop_is_resolved_and_checked_again(web, tmp_path):
    resolver = CountingResolver()
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=2, allow_private=True, resolver=resolver)
    web.hosts.clear()
    fetch(f"http://first.example:{web.server_port}/to-other-name", tmp_path, policy)
    assert resolver.calls == ["first.example", "other.example"]
    assert web.hosts == [f"first.example:{web.server_port}", f"other.example:{web.server_port}"]


# --- raw servers: they send exactly the bytes a test gives them -----------------------------------------


class RawServer:
    """Loopback TCP server; for each connection it reads the request head, then calls `answer(conn)`."""

    def __init__(self, answer: Callable[[socket.socket], None], tls: ssl.SSLContext | None = None):
        self.answer = answer
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v.mp4"

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(5)
            request = b""
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        return
                    request += data
                self.requests.append(request)
                self.answer(conn)
            except OSError:
                pass  # the client gave up (the deadline), which is what some tests want

    def stop(self):
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def raw():
    servers = []

    def start(answer, tls=None):
        if isinstance(answer, bytes):
            data = answer
            answer = lambda conn: conn.sendall(data)  # noqa: E731
        servers.append(RawServer(answer, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# Once the head has come, the message says how much of the body came (was "no answer within 1 s", as if none had).
@pytest.mark.parametrize("at_once,one_byte_at_a_time,message", [
    pytest.param(b"", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", r"no answer within 1 s \(timed out\)",
                 id="headers"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", bytes(100),
                 r"not downloaded within 1 s \(timed out after [1-9] of 100 bytes: the server sends too slowly, or "
                 r"without end\)", id="body"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\na\r\n" * 100,
                 r"not downloaded within 1 s \(timed out after [0-9]+ bytes: the server sends too slowly, or without "
                 r"end\)", id="chunked-body"),
])
def test_a_server_trickling_bytes_fails_once_the_whole_download_passes_the_timeout(raw, tmp_path, at_once,
                                                                                     one_byte_at_a_time, message):
    def answer(conn):
        conn.sendall(at_once)
        for i in range(len(one_byte_at_a_time)):
            conn.sendall(one_byte_at_a_time[i:i + 1])
            time.sleep(0.2)

    server = raw(answer)
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=1.0, allow_private=True)
    t0 = time.monotonic()
    with pytest.raises(FetchError, match=message) as err:
        fetch(server.url, tmp_path, policy)
    assert time.monotonic() - t0 < 1.0 + 2.0
    assert str(err.value).startswith(f"{server.url}: ")


OK_HEAD = b"HTTP/1.1 200 OK\r\n"
BODY = b"video bytes"


@pytest.mark.parametrize("answer,message", [
    pytest.param(OK_HEAD + b"Content-Length: abc\r\n\r\n" + BODY, "invalid Content-Length 'abc'", id="non-numeric"),
    pytest.param(OK_HEAD + b"Content-Length: -11\r\n\r\n" + BODY, "invalid Content-Length '-11'", id="negative"),
    pytest.param(OK_HEAD + b"Content-Length: 11, 12\r\n\r\n" + BODY, "conflicting Content-Length", id="list"),
    pytest.param(OK_HEAD + b"Content-Length: 11\r\nContent-Length: 12\r\n\r\n" + BODY, "conflicting Content-Length",
                 id="two-headers"),
    pytest.param(OK_HEAD + b"Content-Length: 2000\r\n\r\n" + bytes(2000), "2000 bytes is more than the limit of 1000",
                 id="over-the-cap"),
    # More digits than Python makes an int of (4,300): was "fetch failed (ValueError: Exceeds the limit ...)".
    pytest.param(OK_HEAD + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n" + BODY, "99999999999999999999... "
                 "(5000 digits) bytes is more than the limit of 1000", id="five-thousand-digits"),
    pytest.param(OK_HEAD + b"Content-Length: 11, " + b"0" * 5000 + b"12\r\n\r\n" + BODY,
                 "conflicting Content-Length values [11, 12]", id="a-list-of-thousands-of-digits"),
    pytest.param(OK_HEAD + b"Content-Length: 5\r\n\r\n" + BODY, "sent more than the declared 5 bytes",
                 id="longer-than-declared"),
    pytest.param(OK_HEAD + b"Content-Length: 500\r\n\r\n" + BODY, "incomplete download (11 of 500 bytes",
                 id="shorter-than-declared"),
    pytest.param(OK_HEAD + b"\r\n" + bytes(1500), "more than the limit of 1000 bytes", id="undeclared-over-the-cap"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + bytes(1024) + b"\r\n0\r\n\r\n",
                 "more than the limit of 1000 bytes", id="chunked-over-the-cap"),
])
def test_content_length_is_validated_and_the_body_must_match_it(raw, tmp_path, answer, message):
    server = raw(answer)
    policy = FetchPolicy(max_bytes=1000, timeout_s=2, allow_private=True)
    with pytest.raises(FetchError, match=re.escape(message)) as err:
        fetch(server.url, tmp_path, policy)
    assert str(err.value).startswith(f"{server.url}: ")
    assert "\n" not in str(err.value)


def test_a_repeated_identical_content_length_is_accepted(raw, tmp_path):
    server = raw(OK_HEAD + b"Content-Length: 11\r\nContent-Length: 11, 011, " + b"0" * 5000 + b"11\r\n\r\n" + BODY)
    assert fetch(server.url, tmp_path, POLICY).size == len(BODY)


def reset_after(data: bytes):
    def answer(conn):
        conn.sendall(data)
        time.sleep(0.1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST
    return answer


@pytest.mark.parametrize("answer,message", [
    pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", "malformed answer from the server (status line", id="garbage"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\n", "malformed answer from the server", id="binary"),
    pytest.param(b"HTTP/1.1 2000 OK\r\n\r\n", "malformed answer from the server", id="bad-status-code"),
    # HTTP/0.9 (the file itself, no head) or another protocol, ending before a line break or after 64 kB of none:
    # was "the server closed the connection in the middle of its headers" / "headers larger than 65536 bytes".
    pytest.param(b"<html>hello</html>", "malformed answer from the server (status line '<html>hello</html>')",
                 id="http-0.9-page"),
    pytest.param(b"\x00\x00\x00\x18ftypmp42" + bytes(100), "malformed answer from the server (status line",
                 id="http-0.9-video"),
    pytest.param(b"\x00\x00\x00\x18ftypmp42" + bytes(100_000) + b"\n", "malformed answer from the server (status line",
                 id="http-0.9-video-of-no-line-break-in-64-kB"),
    pytest.param(OK_HEAD + b"Content Length 5\r\n\r\nhello", "malformed header line", id="bad-header"),
    pytest.param(OK_HEAD + b"X-A: 1\r\n folded\r\n\r\n", "malformed header (folded line)", id="folded-header"),
    pytest.param(OK_HEAD + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n", "headers larger than 65536 bytes",
                 id="huge-header"),
    pytest.param(OK_HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n", "too many headers",
                 id="many-headers"),
    pytest.param(b"", "the server closed the connection without answering", id="no-answer"),
    pytest.param(OK_HEAD + b"Content-Le", "closed the connection in the middle of its headers", id="cut-headers"),
    pytest.param(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", "HTTP 302 redirect without a Location",
                 id="redirect-without-location"),
    pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", "HTTP 204", id="204"),
    pytest.param(b"HTTP/1.1 304 Not Modified\r\n\r\n", "HTTP 304", id="304"),
    pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "HTTP 101", id="101"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" * 7, "more than 5 interim", id="endless-1xx"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "bad chunk size 'zz'",
                 id="bad-chunk-size"),
    # A chunk of 2^64 - 1 bytes, and one of 2^64 (17 hex digits: no HTTP client's size), then a few bytes.
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n",
                 "more than the limit of 1000000 bytes", id="chunk-of-2-to-the-64-less-one"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n",
                 "bad chunk size '10000000000000000'", id="chunk-of-2-to-the-64"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
                 "a chunk is longer than its size", id="chunk-longer-than-its-size"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "incomplete download",
                 id="chunked-cut-off"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + b"X: y\r\n" * 20_000
                 + b"\r\n", "trailer fields after the chunked body larger than 65536 bytes", id="huge-trailer"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding",
                 id="transfer-coding"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                 "both Content-Length and Transfer-Encoding", id="smuggling-shape"),
    pytest.param(reset_after(OK_HEAD + b"Content-Length: 100000\r\n\r\n" + bytes(1000)), "connection lost",
                 id="reset-mid-body"),
])
def test_a_hostile_server_gives_one_clear_line_naming_the_url(raw, tmp_path, answer, message):
    server = raw(answer)
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=2, allow_private=True, tmp_dir=tmp_path)
    with pytest.raises(FetchError, match=re.escape(message)) as err:
        fetch(server.url, tmp_path, policy)
    assert str(err.value).startswith(f"{server.url}: ")
    assert "\n" not in str(err.value)
    assert not list(tmp_path.iterdir())  # no temp file left behind


def test_a_redirect_loop_across_servers_stops_after_five_hops(raw, tmp_path):
    ports = []
    server = raw(lambda conn: conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:%d/again\r\n\r\n"
                                           % ports[0]))
    ports.append(server.port)
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        fetch(server.url, tmp_path, POLICY)
    assert len(server.requests) == 6


def test_a_refused_redirect_names_its_target_cut_to_200_characters_as_any_url(raw, tmp_path):
    target = b"http://169.254.169.254/" + b"a" * 60_000  # a Location of 60 kB, within the 64 kB of headers
    server = raw(b"HTTP/1.1 302 Found\r\nLocation: " + target + b"\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(FetchError, match=r"refused: cloud metadata address 169\.254\.169\.254") as err:
        fetch(server.url, tmp_path, POLICY)
    assert f"(redirected to http://169.254.169.254/{'a' * 177}… (60023 chars))" in str(err.value)
    assert len(str(err.value)) < 500


def test_a_download_meeting_a_full_disk_fails_saying_disk_full_so_the_job_stops_and_leaves_no_file(raw, tmp_path,
                                                                                                   tmpfs):
    disk = tmpfs("1m")
    with (disk / "filler").open("wb", buffering=0) as f:  # all but a few kB taken
        f.write(bytes(1024 * 1024 - 8192))
    body = bytes(200_000)
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=5, allow_private=True, tmp_dir=disk)
    with pytest.raises(FetchError) as err:
        fetch(server.url, tmp_path, policy)
    assert str(err.value) == f"{server.url}: disk full: cannot write the download in {disk}: No space left on device"
    assert [p.name for p in disk.iterdir()] == ["filler"]



def test_a_download_stops_before_it_takes_the_room_the_stores_keep_free_saying_disk_full(raw, tmp_path, tmpfs):
    # The stores keep INFLUENCERS_MIN_FREE_BYTES free (Edge maps its files: a write into a full disk is a
    # SIGBUS), and the frame spool stops short of it; a download (512 MB at most, or a server's endless body)
    # wrote on until the disk's last byte.
    disk = tmpfs("16m")
    body = bytes(8 << 20)
    server = raw(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    policy = FetchPolicy(max_bytes=len(body), timeout_s=10, allow_private=True, tmp_dir=disk,
                         min_free_bytes=12 << 20)
    with pytest.raises(FetchError) as err:
        fetch(server.url, tmp_path, policy)
    assert str(err.value).startswith(f"{server.url}: disk full: the disk of {disk} has ")
    assert str(err.value).endswith("(INFLUENCERS_MIN_FREE_BYTES): writing a download refused; free some space and "
                                   "run again")
    assert list(disk.iterdir()) == []
    assert fetch(server.url, tmp_path, FetchPolicy(max_bytes=len(body), timeout_s=10, allow_private=True,
                                                   tmp_dir=disk, min_free_bytes=4 << 20)).size == len(body)

def _raw_deflate(data):
    squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return squeeze.compress(data) + squeeze.flush()


@pytest.mark.parametrize("encoding,body", [
    pytest.param(b"gzip", gzip.compress(PAYLOAD), id="gzip"),
    pytest.param(b"GZIP", gzip.compress(PAYLOAD), id="case"),
    pytest.param(b"x-gzip", gzip.compress(PAYLOAD), id="x-gzip"),
    pytest.param(b"identity, gzip", gzip.compress(PAYLOAD), id="identity-listed"),
    pytest.param(b"gzip", gzip.compress(PAYLOAD[:100]) + gzip.compress(PAYLOAD[100:]), id="two-members"),
    # A gzip file padded with zero bytes to a tape or tar block, as `gzip -d` takes it (was: "other bytes after").
    pytest.param(b"gzip", gzip.compress(PAYLOAD) + bytes(10240 - len(gzip.compress(PAYLOAD)) % 10240), id="padded"),
    pytest.param(b"deflate", zlib.compress(PAYLOAD), id="deflate"),
    pytest.param(b"deflate", _raw_deflate(PAYLOAD), id="raw-deflate"),  # as some servers send it; browsers too
])
def test_a_compressed_answer_is_decoded_and_hashed_as_the_plain_file(raw, tmp_path, encoding, body):
    # Before: kept as sent, hashed as sent, and failed as `not a readable video (invalid data)`.
    server = raw(OK_HEAD + b"Content-Encoding: " + encoding + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    got = fetch(server.url, tmp_path, FetchPolicy(max_bytes=100_000, timeout_s=2, allow_private=True))
    assert got.path.read_bytes() == PAYLOAD and got.size == len(PAYLOAD) and got.encoding == ""
    assert got.sha256 == hashlib.sha256(PAYLOAD).hexdigest(), "a gzip copy and a plain copy are one video"
    assert b"accept-encoding: identity" in server.requests[0].lower(), "compression is still not asked for"


def test_a_gzip_bomb_stops_at_the_download_cap_naming_the_url_and_the_cap_and_leaves_no_file(raw, tmp_path):
    bomb = gzip.compress(bytes(10_000_000))  # 10 MB of zeros in ~10 kB
    server = raw(OK_HEAD + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + b"%x\r\n" % len(bomb) + bomb + b"\r\n0\r\n\r\n")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    policy = FetchPolicy(max_bytes=100_000, timeout_s=2, allow_private=True, tmp_dir=downloads)
    with pytest.raises(FetchError) as err:
        fetch(server.url, tmp_path, policy)
    assert str(err.value) == (f"{server.url}: more than the limit of 100000 bytes once decompressed (the server sent "
                              f"{len(bomb)} bytes with Content-Encoding: gzip; a compression bomb?)")
    assert list(downloads.iterdir()) == []


@pytest.mark.parametrize("body,message", [
    pytest.param(gzip.compress(PAYLOAD)[:-20], "the gzip data is cut short", id="cut-short"),
    pytest.param(gzip.compress(PAYLOAD)[:-8] + b"\0\0\0\0" + gzip.compress(PAYLOAD)[-4:],
                 "corrupt gzip data after", id="bad-crc"),
    pytest.param(gzip.compress(PAYLOAD) + b"trailing junk", "other bytes after the end of the gzip data", id="junk"),
    pytest.param(gzip.compress(PAYLOAD) + bytes(512) + b"junk", "other bytes after the end of the gzip data",
                 id="junk-after-padding"),
])
def test_a_corrupt_or_cut_compressed_answer_fails_naming_the_url_and_what_is_wrong(raw, tmp_path, body, message):
    server = raw(OK_HEAD + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(FetchError, match=re.escape(message)) as err:
        fetch(server.url, tmp_path, FetchPolicy(max_bytes=100_000, timeout_s=2, allow_private=True, tmp_dir=downloads))
    assert str(err.value).startswith(f"{server.url}: the server sent it compressed (Content-Encoding: gzip), and ")
    assert list(downloads.iterdir()) == []


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
def test_a_plain_file_labelled_compressed_is_kept_as_sent(raw, tmp_path, encoding):
    # A bucket object stored plain with `Content-Encoding: gzip` in its metadata: its bytes are the file.
    server = raw(OK_HEAD + b"Content-Encoding: " + encoding + b"\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD)
                 + PAYLOAD)
    got = fetch(server.url, tmp_path, FetchPolicy(max_bytes=100_000, timeout_s=2, allow_private=True))
    assert got.path.read_bytes() == PAYLOAD and got.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert got.encoding == ""


@pytest.mark.parametrize("encoding,named", [(b"br", "br"), (b"zstd", "zstd"), (b"gzip, gzip", "gzip, gzip")])
def test_an_encoding_not_decoded_here_is_kept_as_sent_and_named(raw, tmp_path, encoding, named):
    server = raw(OK_HEAD + b"Content-Encoding: " + encoding + b"\r\nContent-Length: 11\r\n\r\n" + BODY)
    got = fetch(server.url, tmp_path, FetchPolicy(max_bytes=100_000, timeout_s=2, allow_private=True))
    assert got.path.read_bytes() == BODY and got.encoding == named


@pytest.mark.parametrize("answer", [
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                 + OK_HEAD + b"Content-Length: 11\r\n\r\n" + BODY, id="interim-1xx"),
    pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n6;x=y\r\nvideo \r\n5\r\nbytes\r\n0\r\nX-T: 1\r\n\r\n",
                 id="chunked"),
    pytest.param(b"HTTP/1.0 200 OK\r\n\r\n" + BODY, id="until-close"),
])
def test_well_formed_answers_of_every_framing_are_read(raw, tmp_path, answer):
    got = fetch(raw(answer).url, tmp_path, POLICY)
    assert got.path.read_bytes() == BODY


def test_a_closed_port_cannot_be_connected_to(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(FetchError, match="cannot connect to the server"):
            fetch(f"http://127.0.0.1:{port}/v.mp4", tmp_path, POLICY)



def test_a_name_resolving_to_hundreds_of_addresses_tries_ten_and_fails_in_one_short_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        def resolver(host, port):
            return [f"127.0.{i // 250}.{i % 250 + 1}" for i in range(300)]

        policy = FetchPolicy(max_bytes=1000, timeout_s=5, allow_private=True, resolver=resolver)
        with pytest.raises(FetchError) as err:
            fetch(f"http://many.example:{port}/v.mp4", tmp_path, policy)
    message = str(err.value)
    assert message.startswith(f"http://many.example:{port}/v.mp4: cannot connect to the server (127.0.0.1: ")
    assert "; 7 more addresses failed; 290 more addresses not tried (at most 10 are))" in message
    assert "127.0.0.4" not in message and len(message) < 300


def test_an_address_that_never_answers_leaves_time_for_the_next_one(raw, tmp_path):
    server = raw(OK_HEAD + b"Content-Length: 11\r\n\r\n" + BODY)  # on 127.0.0.1
    with socket.socket() as dead:  # 127.0.0.2, same port: its one-place queue held full, so connects hang
        dead.bind(("127.0.0.2", server.port))
        dead.listen(0)
        with socket.create_connection(("127.0.0.2", server.port)):
            policy = FetchPolicy(max_bytes=1000, timeout_s=4, allow_private=True,
                                 resolver=lambda host, port: ["127.0.0.2", "127.0.0.1"])
            t0 = time.monotonic()
            got = fetch(f"http://video.example:{server.port}/v.mp4", tmp_path, policy)
    assert got.path.read_bytes() == BODY
    assert 1.5 < time.monotonic() - t0 < 4


def test_an_answer_with_no_length_whose_server_keeps_the_connection_open_says_so_not_only_timed_out(raw, tmp_path):
    # Before: "no answer within 0.5 s (timed out)", though the answer had come, and only its end had not.
    def answer(conn):
        conn.sendall(OK_HEAD + b"\r\n" + BODY)  # HTTP/1.1, no Content-Length, not chunked: ends at the close
        time.sleep(3)

    server = raw(answer)
    with pytest.raises(FetchError) as err:
        fetch(server.url, tmp_path, POLICY)
    assert str(err.value) == (
        f"{server.url}: no end within 0.5 s: the answer states no length (neither Content-Length nor chunked), so it "
        "ends only when the server closes the connection, and after 11 bytes the server kept it open")


# --- TLS: the name travels as SNI and is what the certificate is checked against --------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for the name video.example: (cert file, key file)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=video.example", "-addext", "subjectAltName=DNS:video.example", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture
def tls_server(raw, certificate):
    server_names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    server = raw(OK_HEAD + b"Content-Length: 11\r\n\r\n" + BODY, tls=context)
    server.server_names = server_names
    return server


def test_https_connects_to_the_pinned_address_with_the_name_as_sni_and_host(tls_server, certificate):
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    target = parse_url(f"https://video.example:{tls_server.port}/v.mp4")
    with open_connection(target, [ipaddress.ip_address("127.0.0.1")], Deadline(2), trusting) as conn:
        assert conn.request_head(target).status == 200
    assert tls_server.server_names == ["video.example"]
    assert f"host: video.example:{tls_server.port}".encode() in tls_server.requests[0].lower()



def answered_then_closed(head: bytes, alert: bool):
    """An answer that sends `head` and BODY, then closes the TLS connection with its closing alert (close_notify)
    when `alert`, else the TCP connection under it (a cut an attacker on the path can make)."""
    def answer(conn):
        conn.sendall(head + BODY)
        if alert:
            conn.unwrap()
        else:
            socket.socket(fileno=conn.detach()).close()
    return answer


@pytest.mark.parametrize(("head", "alert", "whole"), [
    pytest.param(b"HTTP/1.0 200 OK\r\n\r\n", False, False, id="no-length-cut"),
    pytest.param(b"HTTP/1.0 200 OK\r\n\r\n", True, True, id="no-length-closed-with-alert"),
    pytest.param(OK_HEAD + b"Content-Length: 11\r\n\r\n", False, True, id="length-stated"),
])
def test_an_https_answer_of_no_stated_length_ending_without_tls_closing_alert_is_incomplete(
        raw, certificate, head, alert, whole):
    # RFC 9112 9.8: an answer stating no length is whole only when TLS closes with its alert. The cut was taken
    # for the end (Python's suppress_ragged_eofs): a video cut short by anyone on the path, analysed as whole.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = raw(answered_then_closed(head, alert), tls=context)
    target = parse_url(f"https://video.example:{server.port}/v.mp4")
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    got = []
    with open_connection(target, [ipaddress.ip_address("127.0.0.1")], Deadline(5), trusting) as conn:
        head_read = conn.request_head(target)
        if whole:
            assert conn.stream_body(head_read, 1000, got.append) == len(BODY)
            assert b"".join(got) == BODY
        else:
            with pytest.raises(BadResponse, match=re.escape(
                    "incomplete download (11 bytes, then the connection closed without TLS's closing alert: the "
                    "answer states no length, so it may be cut short)")):
                conn.stream_body(head_read, 1000, got.append)

def test_a_certificate_for_another_name_is_refused(tls_server, certificate):
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    target = parse_url(f"https://other.example:{tls_server.port}/v.mp4")
    with pytest.raises(CannotConnect, match="TLS certificate refused"):
        open_connection(target, [ipaddress.ip_address("127.0.0.1")], Deadline(2), trusting)


def test_a_self_signed_certificate_fails_the_fetch_with_one_line(tls_server, tmp_path):
    policy = FetchPolicy(max_bytes=1000, timeout_s=2, allow_private=True, resolver=lambda host, port: ["127.0.0.1"])
    url = f"https://video.example:{tls_server.port}/v.mp4"
    with pytest.raises(FetchError, match=re.escape(f"{url}: cannot connect to the server (TLS certificate refused")):
        fetch(url, tmp_path, policy)


@contextlib.contextmanager
def not_tls_at(host: str, port: int):
    """A server at host:port that answers a TLS handshake in plain HTTP (another service on the port)."""
    with socket.create_server((host, port)) as plain:
        def answer():
            with contextlib.suppress(OSError):
                conn, _ = plain.accept()
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        threading.Thread(target=answer, daemon=True).start()
        yield


def test_a_tls_handshake_failing_on_the_first_address_goes_on_to_the_next(tls_server, certificate):
    # Before, the first address's failed handshake failed the download: the next address was never tried.
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    target = parse_url(f"https://video.example:{tls_server.port}/v.mp4")
    with not_tls_at("127.0.0.2", tls_server.port):
        addresses = [ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("127.0.0.1")]
        with open_connection(target, addresses, Deadline(4), trusting) as conn:
            assert conn.request_head(target).status == 200


def test_tls_failing_on_every_address_names_each_address_and_its_failure(tls_server):
    target = parse_url(f"https://video.example:{tls_server.port}/v.mp4")
    with not_tls_at("127.0.0.2", tls_server.port):
        addresses = [ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("127.0.0.1")]
        with pytest.raises(CannotConnect) as err:
            open_connection(target, addresses, Deadline(4), ssl.create_default_context())
    said = str(err.value)
    assert said.startswith("127.0.0.2: TLS handshake failed: ") and "; 127.0.0.1: TLS certificate refused: " in said


@pytest.mark.parametrize("answer,words", [
    pytest.param(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "the server answered without TLS: an "
                 "http server on this port? (give the link as http://) (WRONG_VERSION_NUMBER)", id="plain-http"),
    pytest.param(b"", "the server closed the connection during the handshake (UNEXPECTED_EOF_WHILE_READING)",
                 id="closed"),
])
def test_an_https_link_to_a_server_not_speaking_tls_says_so_in_words(answer, words, tmp_path):
    # Was "TLS handshake failed: WRONG_VERSION_NUMBER", OpenSSL's reason alone.
    with socket.create_server(("127.0.0.1", 0)) as plain:
        def serve():
            conn, _ = plain.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(answer)
        threading.Thread(target=serve, daemon=True).start()
        url = f"https://127.0.0.1:{plain.getsockname()[1]}/v.mp4"
        with pytest.raises(FetchError) as err:
            fetch(url, tmp_path, FetchPolicy(max_bytes=1000, timeout_s=2, allow_private=True))
    assert str(err.value) == f"{url}: cannot connect to the server (TLS handshake failed: {words})"


def test_a_tls_server_that_never_finishes_the_handshake_fails_at_the_deadline(raw, tmp_path):
    server = raw(lambda conn: time.sleep(3))
    policy = FetchPolicy(max_bytes=1000, timeout_s=0.5, allow_private=True)
    url = f"https://127.0.0.1:{server.port}/v.mp4"
    t0 = time.monotonic()
    with pytest.raises(FetchError, match=re.escape(f"{url}: no answer within 0.5 s (timed out)")):
        fetch(url, tmp_path, policy)
    assert time.monotonic() - t0 < 0.5 + 2


# --- local paths ---------------------------------------------------------------------------------------


def test_local_paths_stay_under_the_allowed_root(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "a.mp4").write_bytes(PAYLOAD)
    (tmp_path / "secret.mp4").write_bytes(PAYLOAD)
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=1, allowed_root=root)
    assert fetch("a.mp4", root, policy).size == len(PAYLOAD)
    with pytest.raises(FetchError, match="outside the allowed folder"):
        fetch("../secret.mp4", root, policy)


def test_a_symlink_escaping_the_allowed_root_is_refused_and_one_inside_is_followed(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "a.mp4").write_bytes(PAYLOAD)
    (tmp_path / "secret.mp4").write_bytes(PAYLOAD)
    (root / "inside.mp4").symlink_to(root / "a.mp4")
    (root / "escape.mp4").symlink_to(tmp_path / "secret.mp4")
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=1, allowed_root=root)
    assert fetch("inside.mp4", root, policy).size == len(PAYLOAD)
    with pytest.raises(FetchError, match="escape.mp4: outside the allowed folder"):
        fetch("escape.mp4", root, policy)


@pytest.fixture
def specials(tmp_path):
    os.mkfifo(tmp_path / "fifo.mp4")
    (tmp_path / "dir.mp4").mkdir()
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "sock.mp4"))
    yield tmp_path
    unix.close()


@pytest.mark.parametrize("name,kind", [
    ("dir.mp4", "a directory"),
    ("fifo.mp4", "a FIFO"),
    ("sock.mp4", "socket"),
    ("/dev/zero", "a character device"),
])
def test_a_path_that_is_not_a_regular_file_is_refused(specials, name, kind):
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=1)
    t0 = time.monotonic()
    with pytest.raises(FetchError, match=f"{name}: not a regular file .*{kind}"):
        fetch(name, specials, policy)
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("spelling", ["videos\\a.mp4", ".\\videos\\a.mp4", "..\\m\\videos\\a.mp4"])
def test_a_relative_path_written_on_windows_with_backslashes_finds_the_file(tmp_path, spelling):
    """`videos\\a.mp4` in a manifest made on Windows: Linux reads a backslash as a character of a name, and the
    row failed as `file not found` beside the file. A name that holds a backslash is still found first."""
    (tmp_path / "m" / "videos").mkdir(parents=True)
    (tmp_path / "m" / "videos" / "a.mp4").write_bytes(BODY)
    base = tmp_path / "m"
    fetched = fetch(spelling, base, POLICY)
    assert fetched.path == local_path(spelling, base) == base / "videos" / "a.mp4"
    (base / "videos\\a.mp4").write_bytes(BODY + b"!")
    assert fetch("videos\\a.mp4", base, POLICY).path == base / "videos\\a.mp4"


@pytest.mark.parametrize("location, hint", [
    ("C:\\Users\\ann\\a.mp4", "(a Windows path: give the file's path on this machine, or one relative to the "
                                "manifest's folder)"),
    ("\\\\server\\share\\a.mp4", "(a Windows path"),
    ("file:///C:/Users/ann/a.mp4", "(a Windows path"),
    ("www.example.com/a.mp4", "(read as a path: a web address is given whole, with its https://)"),
    # A mistyped scheme, and a first folder named as a host is (was the relative path's hint alone).
    ("https//cdn.example.com/a.mp4", "(read as a path: a web address is given whole, with its https://)"),
    ("http;//cdn.example.com/a.mp4", "(read as a path: a web address is given whole, with its https://)"),
    ("cdn.example.com/a.mp4", "(a relative path is read from the manifest's folder; a web address is given whole, "
                              "with its https://)"),
    ("clips.2024/a.mp4", "(a relative path is read from the manifest's folder)"),
])
def test_a_missing_file_given_as_a_windows_path_or_a_web_address_without_https_says_what_it_looks_like(
        tmp_path, location, hint):
    with pytest.raises(FetchError) as caught:
        fetch(location, tmp_path, POLICY)
    assert str(caught.value).startswith(f"{location}: file not found {hint}")
    with pytest.raises(FetchError, match=r"^/videos/gone\.mp4: file not found$"):
        fetch("/videos/gone.mp4", tmp_path, POLICY)


def test_a_link_without_its_scheme_is_refused_not_read_as_the_local_path_linux_makes_of_it(tmp_path):
    # `//host/v.mp4` is `/host/v.mp4` to Linux: was read so, a file the analyst did not mean (a link copied from a
    # page's source), and "file not found" when missing.
    (tmp_path / "v.mp4").write_bytes(BODY)
    assert fetch(f"{tmp_path}/v.mp4", tmp_path, POLICY).size == len(BODY)
    hint = "a link without its scheme is not fetched: write it whole, with its https:// (a path on this machine " \
           "starts with one /)"
    with pytest.raises(FetchError) as caught:
        fetch(f"/{tmp_path}/v.mp4", tmp_path, POLICY)
    assert str(caught.value) == f"/{tmp_path}/v.mp4: {hint}"
    with pytest.raises(FetchError) as caught:
        fetch("//cdn.example.com/token=hunter2/a.mp4?sig=hunter3", tmp_path, POLICY)
    assert str(caught.value) == f"//cdn.example.com/token=***/a.mp4?sig=***: {hint}"
    assert fetch(f"//{tmp_path}/v.mp4", tmp_path, POLICY).size == len(BODY)  # three slashes: a path


def test_a_missing_file_given_as_a_relative_path_says_it_was_read_from_the_manifests_folder(tmp_path):
    with pytest.raises(FetchError, match=r"^videos/gone\.mp4: file not found \(a relative path is read from the "
                                         r"manifest's folder\)$"):
        fetch("videos/gone.mp4", tmp_path, POLICY)


def test_a_path_with_a_nul_byte_fails_cleanly(tmp_path):
    with pytest.raises(FetchError, match="invalid path"):
        fetch("a\x00.mp4", tmp_path, POLICY)


def test_unsupported_schemes_are_refused(tmp_path):
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.com/a.mp4", tmp_path, POLICY)


def test_a_scheme_of_thousands_of_characters_is_named_cut_short_and_a_host_and_port_read_as_one_says_so(tmp_path):
    # Was the whole scheme in the row's error (50 kB: parse_url cut it, the local path's refusal did not).
    with pytest.raises(FetchError) as err:
        fetch("x" * 50_000 + "://cdn.example/a.mp4", tmp_path, POLICY)
    assert str(err.value).endswith(f"unsupported URL scheme '{'x' * 77}...' (use http, https or a path)")
    assert len(str(err.value)) < 400
    # `cdn.example.com:8080/a.mp4` reads as the scheme `cdn.example.com` (was: "use http, https or a path" alone).
    for url, scheme in (("cdn.example.com:8080/a.mp4", "cdn.example.com"), ("localhost:8080/a.mp4", "localhost")):
        with pytest.raises(FetchError) as err:
            fetch(url, tmp_path, POLICY)
        assert str(err.value) == (f"{url}: unsupported URL scheme '{scheme}' (read as a scheme: a web address is given "
                                  "whole, with its https://)")


PARTIAL_HEAD = b"HTTP/1.1 206 Partial Content\r\n"


@pytest.mark.parametrize("answer", [
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 0-10/11\r\nContent-Length: 11\r\n\r\n" + BODY, id="length"),
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 0-10/11\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"b\r\n" + BODY + b"\r\n0\r\n\r\n", id="chunked"),
])
def test_a_partial_content_answer_holding_the_whole_file_is_the_file(raw, tmp_path, answer):
    # Before: "HTTP 206", the video lost, though the server had sent every byte of it.
    server = raw(answer)
    got = fetch(server.url, tmp_path, POLICY)
    assert got.path.read_bytes() == BODY and hashlib.sha256(BODY).hexdigest().startswith(got.video_id)
    assert b"range:" not in server.requests[0].lower()  # the whole file was asked for


@pytest.mark.parametrize("answer,message", [
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 100-110/111\r\nContent-Length: 11\r\n\r\n" + BODY,
                 "HTTP 206 (partial content): the server sent bytes 100-110 of 111, a part starting at byte 100, where "
                 "the whole file was asked for", id="the-end"),
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 0-11/11\r\nContent-Length: 12\r\n\r\n" + BODY + b"!",
                 "the server sent bytes 0-11 of 11, a range outside the file", id="past-the-end"),
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 0-10/*\r\nContent-Length: 11\r\n\r\n" + BODY,
                 "the server sent bytes 0-10 of *, a part", id="length-unknown"),
    pytest.param(PARTIAL_HEAD + b"Content-Length: 11\r\n\r\n" + BODY,
                 "HTTP 206 (partial content) with no Content-Range, where the whole file was asked for", id="no-range"),
    pytest.param(PARTIAL_HEAD + b"Content-Type: multipart/byteranges; boundary=X\r\nContent-Length: 11\r\n\r\n" + BODY,
                 "with no Content-Range", id="multipart"),
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 0-10/11\r\nContent-Range: bytes 0-4/11\r\n\r\n" + BODY,
                 "with no single byte range (Content-Range 'bytes 0-10/11, bytes 0-4/11')", id="two-ranges"),
    pytest.param(PARTIAL_HEAD + b"Content-Range: bytes 0-99/100\r\nContent-Length: 11\r\n\r\n" + BODY,
                 "incomplete download (11 of the 100 bytes its Content-Range states)", id="shorter-than-its-range"),
])
def test_a_partial_content_answer_holding_a_part_of_the_file_fails_naming_the_part(raw, tmp_path, answer, message):
    # Before: "HTTP 206", which said nothing of the server sending a part where the whole was asked for.
    server = raw(answer)
    with pytest.raises(FetchError, match=re.escape(message)) as err:
        fetch(server.url, tmp_path, FetchPolicy(max_bytes=1_000_000, timeout_s=2, allow_private=True, tmp_dir=tmp_path))
    assert str(err.value).startswith(f"{server.url}: ")
    assert not list(tmp_path.iterdir())  # no temp file left behind
