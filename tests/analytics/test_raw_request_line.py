"""Raw bytes past ASCII in the request line (`GET /vidéo` as some scripts send it, unencoded), over the real
server. Waitress refuses the line itself before any application runs (urllib cannot split such a URI): its own
400, which the page cannot style without replacing waitress's internals (its channel's error task). What is
checked is that this answer stays short and closed, tells nothing of the server's insides, and that the server
goes on serving."""

from __future__ import annotations

import socket

import pytest
import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving


def raw_answer(url: str, line: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(line + f"\r\nHost: {host}:{port}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):  # waitress closes the connection after it
            answer += chunk
    return answer


@pytest.mark.parametrize("line", [b"GET /vid\xc3\xa9o HTTP/1.1", b"GET /\xff HTTP/1.1", b"GET /?q=\xe9 HTTP/1.1",
                                  b"G\xc3\xa9T / HTTP/1.1"])
def test_raw_non_ascii_bytes_in_the_request_line_get_a_short_closed_400_and_the_server_goes_on(
        analytics_empty_store: AnalyticsStore, line: bytes) -> None:
    with serving(create_app(analytics_empty_store)) as url:
        head, _, body = raw_answer(url, line).partition(b"\r\n\r\n")
        assert head.startswith((b"HTTP/1.1 400 ", b"HTTP/1.0 400 ")), head
        headers = head.lower().split(b"\r\n")
        assert b"connection: close" in headers and b"content-type: text/plain; charset=utf-8" in headers
        assert f"content-length: {len(body)}".encode() in headers
        assert len(body) < 100 and body.startswith(b"Bad Request") and b"Traceback" not in body, body
        assert requests.get(url + "/", timeout=10).status_code == 200
