"""A server that answers a download with a part of the file (206): the rest is asked for with Range requests,
checked part by part, until the file is whole; a server that sends nothing new, or parts that do not fit, fails
naming the URL. Before: `HTTP 206 (partial content): the server sent bytes 0-999 of 5016, a part of the file
where the whole was asked for`, the video lost."""

import gzip
import hashlib
import http.server
import re
from dataclasses import dataclass, field

import pytest

from services.ingest.fetch import MAX_PARTS, FetchError, FetchPolicy, fetch

FILE = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 19 + b"end"
NEW_FILE = b"\x00\x00\x00\x18ftypmp42" + b"another version"
RANGE_ASKED = re.compile(r"bytes=([0-9]+)-")


@dataclass
class Parts:
    """How the server answers: parts of `part` bytes of `body` under `etag`; `broken` names one misbehaviour."""

    body: bytes = FILE
    part: int = 1000
    etag: str | None = '"v1"'
    last_modified: str | None = "Sat, 05 Dec 2026 10:00:00 GMT"
    broken: str = ""
    gzipped: bool = False  # `body` is gzip-compressed, and every answer says Content-Encoding: gzip
    asked: list[tuple[str | None, str | None]] = field(default_factory=list)  # (Range, If-Range) of each request


class PartsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        parts: Parts = self.server.parts
        asked, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        parts.asked.append((asked, if_range))
        m = RANGE_ASKED.fullmatch(asked or "bytes=0-")
        start = int(m.group(1)) if m else 0
        if parts.broken == "changed" and asked and if_range in (parts.etag, parts.last_modified):
            # If-Range failed: the file changed since, all of it (compressed, which its own answer says)
            return self._answer(200, gzip.compress(NEW_FILE), None, compressed=True)
        if parts.broken == "gone" and asked:
            return self._answer(404, b"not here", None)
        if parts.broken == "same-part":
            start = 0
        if parts.broken == "other-etag" and asked:
            parts.etag = '"v2"'
        if parts.broken in ("etag-dropped", "date-dropped") and asked:  # another node of the CDN, or a new version
            parts.etag, parts.last_modified = (None, parts.last_modified) if parts.broken == "etag-dropped" else \
                (parts.etag, None)
        if parts.broken == "etag-added" and asked:
            parts.etag = '"v2"'
        if parts.broken == "coding-changed" and asked:
            parts.gzipped = not parts.gzipped
        end = min(start + parts.part, len(parts.body)) - 1
        total = len(parts.body) + (1 if parts.broken == "other-length" and asked else 0)
        body = parts.body[start:end + 1]
        if parts.broken in ("longer-part", "longer-length") and asked:
            body += b"spliced"  # more than the Content-Range states: bytes of another file, or of the next part
        self._answer(206, body, f"bytes {start}-{end}/{total}", chunked=parts.broken == "longer-part")

    def _answer(self, code, body, content_range, compressed=False, chunked=False):
        parts: Parts = self.server.parts
        self.send_response(code)
        if compressed or parts.gzipped:
            self.send_header("Content-Encoding", "gzip")
        if content_range:
            self.send_header("Content-Range", content_range)
        if parts.etag:
            self.send_header("ETag", parts.etag)
        if parts.last_modified:
            self.send_header("Last-Modified", parts.last_modified)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture
def serve(http_servers):
    def start(parts: Parts) -> str:
        server = http_servers(PartsHandler)
        server.parts = parts
        return f"http://127.0.0.1:{server.server_port}/v.mp4"

    return start


def policy(tmp_path, max_bytes=1_000_000):
    return FetchPolicy(max_bytes=max_bytes, timeout_s=5, allow_private=True, tmp_dir=tmp_path)


def test_a_file_sent_in_parts_is_asked_for_part_by_part_until_it_is_whole(serve, tmp_path):
    parts = Parts()
    got = fetch(serve(parts), tmp_path, policy(tmp_path))
    assert got.path.read_bytes() == FILE
    assert got.sha256 == hashlib.sha256(FILE).hexdigest() and got.size == len(FILE)
    assert [r for r, _ in parts.asked] == [None, "bytes=1000-", "bytes=2000-", "bytes=3000-", "bytes=4000-"]
    assert {i for _, i in parts.asked[1:]} == {'"v1"'}  # the first part's ETag: the same file, or all of it anew


@pytest.mark.parametrize("etag,if_range", [
    pytest.param('W/"v1"', "Sat, 05 Dec 2026 10:00:00 GMT", id="weak-etag-so-the-date"),
    pytest.param(None, "Sat, 05 Dec 2026 10:00:00 GMT", id="no-etag-so-the-date"),
])
def test_without_a_strong_etag_the_rest_is_asked_for_if_the_date_is_the_same(serve, tmp_path, etag, if_range):
    parts = Parts(etag=etag)
    assert fetch(serve(parts), tmp_path, policy(tmp_path)).path.read_bytes() == FILE
    assert {i for _, i in parts.asked[1:]} == {if_range}


def test_without_any_validator_the_rest_is_asked_for_without_if_range(serve, tmp_path):
    parts = Parts(etag=None, last_modified=None)
    assert fetch(serve(parts), tmp_path, policy(tmp_path)).path.read_bytes() == FILE
    assert {i for _, i in parts.asked[1:]} == {None}


def test_later_parts_without_the_last_modified_of_the_first_are_joined_as_rfc_9110_lets_a_206_leave_it_out(
        serve, tmp_path):
    # A 206 must repeat the ETag a 200 would carry, not Last-Modified (RFC 9110, 15.3.7); it answered an If-Range
    # holding the first part's validator, so it is of that version. Refused for a while: "then none".
    parts = Parts(broken="date-dropped")
    assert fetch(serve(parts), tmp_path, policy(tmp_path)).path.read_bytes() == FILE


def test_a_file_changed_between_parts_comes_whole_and_alone(serve, tmp_path):
    # If-Range failed on the server: it sends the new file whole (200), never bytes of two versions.
    got = fetch(serve(Parts(broken="changed")), tmp_path, policy(tmp_path))
    # The new file's own answer says how its bytes are (gzip): decoded, where the first parts said nothing.
    assert got.path.read_bytes() == NEW_FILE and got.sha256 == hashlib.sha256(NEW_FILE).hexdigest()
    assert got.encoding == ""


def test_a_compressed_file_sent_in_parts_is_joined_then_decoded_whole(serve, tmp_path):
    # The parts are of the compressed bytes (a Range counts the bytes sent): joined first, then decoded as one.
    parts = Parts(body=gzip.compress(FILE, mtime=0), part=100, gzipped=True)
    got = fetch(serve(parts), tmp_path, policy(tmp_path))
    assert got.path.read_bytes() == FILE and got.sha256 == hashlib.sha256(FILE).hexdigest() and got.size == len(FILE)
    assert len(parts.asked) > 1
    assert [path.name for path in tmp_path.iterdir()] == [got.path.name], "the compressed download is removed"


def test_a_file_larger_than_the_cap_is_refused_by_its_first_part_before_more_is_asked(serve, tmp_path):
    parts = Parts()
    with pytest.raises(FetchError, match=f"{len(FILE)} bytes is more than the limit of 3000"):
        fetch(serve(parts), tmp_path, policy(tmp_path, max_bytes=3000))
    assert len(parts.asked) == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("parts,message", [
    pytest.param(Parts(broken="same-part"), f"HTTP 206 (partial content): the server sent bytes 0-999 of "
                 f"{len(FILE)}, a part starting at byte 0, where bytes 1000- were asked for", id="nothing-new"),
    pytest.param(Parts(broken="other-length"), f"the server sent bytes 1000-1999 of {len(FILE) + 1}, where its "
                 f"first part stated {len(FILE)} bytes (the file changed on the server?)", id="another-length"),
    pytest.param(Parts(broken="other-etag"), "the file changed on the server during the download "
                 "(ETag '\"v1\"', then '\"v2\"')", id="another-etag"),
    # A version named by one part and not the other, or parts in other codings (bytes of the gzip file, then of the
    # plain one): not joined. Before: taken, the parts of two versions joined and decoded with the first's coding.
    pytest.param(Parts(broken="etag-dropped"), "the file changed on the server during the download (ETag "
                 "'\"v1\"', then none): its part from byte 1000 is of another version", id="etag-dropped"),
    pytest.param(Parts(etag=None, broken="etag-added"), "(ETag none, then '\"v2\"')", id="etag-added"),
    pytest.param(Parts(body=gzip.compress(FILE, mtime=0), part=100, gzipped=True, broken="coding-changed"),
                 "(Content-Encoding 'gzip', then none): its part from byte 100 is of another version",
                 id="gzip-then-plain"),
    pytest.param(Parts(broken="coding-changed"), "(Content-Encoding none, then 'gzip')", id="plain-then-gzip"),
    # A part longer than its Content-Range: refused by its Content-Length before a byte is read, else once it passes.
    pytest.param(Parts(broken="longer-length"), "the server sent a Content-Length of 1007 bytes for the 1000 its "
                 "Content-Range states (bytes 1000-1999)", id="longer-content-length"),
    pytest.param(Parts(broken="longer-part"), "the server sent more than the 1000 bytes its Content-Range states "
                 "(bytes 1000-1999)", id="longer-chunked-body"),
    pytest.param(Parts(broken="gone"), "HTTP 404 (not found), where the rest of the file (bytes 1000-) was asked for",
                 id="refused"),
    pytest.param(Parts(part=100), f"the server sent the file in more than {MAX_PARTS} parts (1600 of its {len(FILE)} "
                 "bytes came)", id="too-many-parts"),
])
def test_parts_that_bring_nothing_new_or_do_not_fit_fail_naming_the_url(serve, tmp_path, parts, message):
    url = serve(parts)
    with pytest.raises(FetchError, match=re.escape(message)) as err:
        fetch(url, tmp_path, policy(tmp_path))
    assert str(err.value).startswith(f"{url}: ")
    assert len(parts.asked) <= MAX_PARTS
    assert not list(tmp_path.iterdir())  # no temp file left behind


def test_every_part_goes_to_the_address_the_name_was_resolved_to_once(serve, tmp_path):
    # DNS rebinding between parts: a name answered with a checked address, then an internal one, must not get the
    # rest of the file asked for there. The name is resolved once; every part is asked of the first address.
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    asked = []

    def rebinding(host, port):
        asked.append(host)
        return answers[min(len(asked), 2) - 1]

    parts = Parts()
    port = serve(parts).split(":")[2].split("/")[0]
    got = fetch(f"http://cdn.example:{port}/v.mp4", tmp_path,
                FetchPolicy(max_bytes=1_000_000, timeout_s=5, allow_private=True, tmp_dir=tmp_path, resolver=rebinding))
    assert got.path.read_bytes() == FILE and len(parts.asked) == 5
    assert asked == ["cdn.example"]
