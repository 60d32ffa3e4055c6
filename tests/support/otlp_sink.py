"""A tiny OTLP/HTTP receiver for tests and benchmarks: accepts the spans an OTLP exporter POSTs (protobuf,
gzip or not) on loopback, keeps them as plain dicts, and draws one trace as a tree. Used by the tracing test
of `influencers serve` and bench/observability.py."""

from __future__ import annotations

import gzip
import http.server
import threading

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


class SpanSink:
    """An OTLP/HTTP receiver on loopback: accepts POST /v1/traces (protobuf, gzip or not), keeps the spans."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.posts = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                sink.add(request)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True).start()

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._lock:
            self.posts += 1
            for resource_spans in request.resource_spans:
                service = next((a.value.string_value for a in resource_spans.resource.attributes
                                if a.key == "service.name"), "")
                for scope in resource_spans.scope_spans:
                    for s in scope.spans:
                        self.spans.append({
                            "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                            "parent_id": s.parent_span_id.hex(), "name": s.name, "service": service,
                            "start_ns": s.start_time_unix_nano, "end_ns": s.end_time_unix_nano,
                            "error": s.status.code == s.status.STATUS_CODE_ERROR,
                            "attributes": {a.key: _value(a.value) for a in s.attributes}})

    def take(self) -> list[dict]:
        with self._lock:
            spans, self.spans = self.spans, []
            return spans

    def close(self) -> None:
        self._server.shutdown()


def _value(v: object) -> object:
    kind = v.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(v, kind) if kind else None


def span_tree(spans: list[dict], trace_id: str) -> list[str]:
    """The spans of one trace as indented lines: `name  [service]  ms  attributes`, children by start time."""
    mine = [s for s in spans if s["trace_id"] == trace_id]
    ids = {s["span_id"] for s in mine}
    children: dict[str, list[dict]] = {}
    for s in mine:
        children.setdefault(s["parent_id"] if s["parent_id"] in ids else "", []).append(s)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda x: x["start_ns"]):
            ms = (s["end_ns"] - s["start_ns"]) / 1e6
            attrs = {k.removeprefix("influencers."): v for k, v in s["attributes"].items()
                     if k.startswith("influencers.") or k == "rpc.grpc.status_code"}
            shown = " ".join(f"{k}={v}" for k, v in attrs.items())
            lines.append(f"{'  ' * depth}{s['name']}  [{s['service']}]  {ms:.1f} ms"
                         + ("  ERROR" if s["error"] else "") + (f"  {shown}" if shown else ""))
            walk(s["span_id"], depth + 1)

    walk("", 0)
    return lines
