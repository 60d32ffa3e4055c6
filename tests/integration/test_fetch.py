"""Fetching over real HTTP on loopback: caps, timeouts, errors, redirects and the internal-address guard."""

import http.server
import threading
import time

import pytest

from services.ingest.fetch import FetchError, FetchPolicy, fetch

PAYLOAD = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/ok.mp4":
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
        elif self.path == "/to-file":
            self._redirect("file:///etc/passwd")
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
def base_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


POLICY = FetchPolicy(max_bytes=1_000_000, timeout_s=0.5, allow_private=True)


def test_a_download_is_hashed_and_removed_when_released(base_url, tmp_path):
    got = fetch(f"{base_url}/ok.mp4", tmp_path, POLICY)
    assert got.size == len(PAYLOAD) and len(got.video_id) == 16 and got.path.is_file()
    got.release()
    assert not got.path.exists()


def test_redirects_are_followed(base_url, tmp_path):
    assert fetch(f"{base_url}/redirect", tmp_path, POLICY).size == len(PAYLOAD)


@pytest.mark.parametrize("path,message", [
    ("/missing.mp4", "HTTP 404"),
    ("/slow.mp4", "timed out"),
    ("/huge.mp4", "more than the limit"),
    ("/loop", "too many redirects"),
    ("/to-file", "non-http URL"),
    ("/empty.mp4", "0 bytes"),
])
def test_bad_downloads_fail_with_a_message_naming_the_url(base_url, tmp_path, path, message):
    with pytest.raises(FetchError, match=message) as err:
        fetch(f"{base_url}{path}", tmp_path, POLICY)
    assert f"{base_url}{path}" in str(err.value)


def test_loopback_and_private_addresses_are_refused_unless_allowed(base_url, tmp_path):
    strict = FetchPolicy(max_bytes=1_000_000, timeout_s=0.5)
    with pytest.raises(FetchError, match="internal address 127.0.0.1"):
        fetch(f"{base_url}/ok.mp4", tmp_path, strict)
    with pytest.raises(FetchError, match="internal address 10.1.2.3"):
        fetch("http://10.1.2.3/x.mp4", tmp_path, strict)


def test_local_paths_stay_under_the_allowed_root(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "a.mp4").write_bytes(PAYLOAD)
    (tmp_path / "secret.mp4").write_bytes(PAYLOAD)
    policy = FetchPolicy(max_bytes=1_000_000, timeout_s=1, allowed_root=root)
    assert fetch("a.mp4", root, policy).size == len(PAYLOAD)
    with pytest.raises(FetchError, match="outside the allowed folder"):
        fetch("../secret.mp4", root, policy)


def test_unsupported_schemes_are_refused(tmp_path):
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.com/a.mp4", tmp_path, POLICY)
