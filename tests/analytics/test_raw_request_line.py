"""Requests waitress refuses itself, before any application runs: raw bytes past ASCII in the request line
(`GET /vidéo` as some scripts send it, unencoded; urllib cannot split such a URI), a Content-Length that is no
number. Over the real server, they get the site's error page (JSON under /api), closed, with nothing of the
server's insides, and the server goes on serving."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving


def raw_answer(url: str, line: bytes, headers: bytes = b"") -> tuple[list[bytes], bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(line + f"\r\nHost: {host}:{port}\r\n".encode() + headers + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # waitress closes the connection after it
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


@pytest.mark.parametrize("line", [b"GET /vid\xc3\xa9o HTTP/1.1", b"GET /\xff HTTP/1.1", b"GET /?q=\xe9 HTTP/1.1",
                                  b"G\xc3\xa9T / HTTP/1.1"])
def test_raw_non_ascii_bytes_in_the_request_line_get_the_sites_400_page_closed_and_the_server_goes_on(
        analytics_empty_store: AnalyticsStore, line: bytes) -> None:
    with serving(create_app(analytics_empty_store)) as url:
        head, body = raw_answer(url, line)
        assert head[0].startswith((b"HTTP/1.1 400 ", b"HTTP/1.0 400 ")), head
        headers = [h.lower() for h in head[1:]]
        assert b"connection: close" in headers and b"content-type: text/html; charset=utf-8" in headers
        assert b"x-content-type-options: nosniff" in headers and b"x-frame-options: deny" in headers
        assert f"content-length: {len(body)}".encode() in headers
        assert b'id="error"' in body and b"Bad Request" in body and b"Back to the report" in body
        assert b"Traceback" not in body and b"waitress" not in body.lower()
        assert requests.get(url + "/", timeout=10).status_code == 200


def test_a_request_refused_by_the_server_under_the_api_is_answered_in_json(
        analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store)) as url:
        # A Content-Length that is no number: refused before the app runs.
        head, body = raw_answer(url, b"GET /api/videos.json HTTP/1.1", b"Content-Length: ten\r\n")
        assert head[0].split(b" ")[1] == b"400", head
        assert b"content-type: application/json" in [h.lower() for h in head[1:]]
        assert json.loads(body)["error"]
        assert requests.get(url + "/api/videos.json", timeout=10).status_code == 200
