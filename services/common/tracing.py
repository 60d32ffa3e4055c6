"""OpenTelemetry traces of the three services: set up from the standard OTEL_* variables, or not at all.

Tracing is on only when the environment asks for it: an OTLP endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_EXPORTER_OTLP_ENDPOINT`), or `OTEL_TRACES_EXPORTER=otlp|console` said outright. `OTEL_SDK_DISABLED=true`
and `OTEL_TRACES_EXPORTER=none` turn it off whatever else is set. Off, nothing is installed: no provider, no
interceptor on any server or channel, no Flask hook; `tracer()` answers OpenTelemetry's no-op tracer, whose
spans cost a context switch and nothing else.

On, each service of this process gets a TracerProvider of its own, with its own Resource (`service.name`
influencers-ingest, -identity, -analytics; `OTEL_SERVICE_NAME` replaces the `influencers` prefix, or the
whole name when the process runs one service), a BatchSpanProcessor and the OTLP/HTTP exporter (which reads
the other OTEL_EXPORTER_OTLP_* variables itself: headers, timeout, certificate). So in one-process `run`
a trace backend still shows three services. Only `http/protobuf` is supported as the protocol (the gRPC
exporter is not installed); another value is refused naming the variable.

The providers are process state, as OpenTelemetry's own global provider is: `setup_tracing()` once in the
entry point, `shutdown_tracing()` on its way out (flushes the spans still queued), and the factories read
them. Tests install an in-memory exporter with `install()`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping

import grpc
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from services.common.endpoint_secrets import hide_endpoint_secrets
from services.common.log_throttle import throttle
from services.common.settings import SettingsError
from services.common.url_secrets import secrets_hidden

SERVICES = ("ingest", "identity", "analytics")
PREFIX = "influencers"
PROTOCOL = "http/protobuf"
_EXPORTERS = ("otlp", "console", "none")
_TRUE = ("true", "1", "yes", "on")
# The SDK's loggers that log each failed export and each dropped batch: held to a line a minute (log_throttle.py).
EXPORT_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.sdk._shared_internal",
                  "opentelemetry.sdk.trace.export")
# The loggers OpenTelemetry's propagators name a caller's malformed trace context with (a line per bad `baggage`
# entry, up to 180 a request; a bad `tracestate` member): what a caller sends, so a line a minute, cut short.
PROPAGATION_LOGGERS = ("opentelemetry.baggage.propagation", "opentelemetry.trace.span")
PROPAGATION_LINE_CHARS = 200

log = logging.getLogger(__name__)

_providers: dict[str, TracerProvider] = {}  # service -> provider, while tracing is on (see module docstring)


def wanted(environ: Mapping[str, str] | None = None) -> str:
    """The exporter the environment asks for ("otlp" or "console"), or "" when tracing is off. Raises
    SettingsError naming the variable for a protocol or exporter this build cannot serve."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return ""
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter and exporter not in _EXPORTERS:
        raise SettingsError(f"OTEL_TRACES_EXPORTER={exporter!r} is not supported (otlp, console or none)")
    if exporter == "none":
        return ""
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(name, "").strip()
        if protocol and protocol != PROTOCOL:
            raise SettingsError(f"{name}={protocol!r} is not supported: use {PROTOCOL} (OTLP over HTTP)")
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if exporter:
        return exporter
    return "otlp" if endpoint else ""


def service_name(service: str, services: int = 1, environ: Mapping[str, str] | None = None) -> str:
    """`service.name` of one of our services: influencers-<service>; OTEL_SERVICE_NAME replaces the prefix
    when this process runs several services, and the whole name when it runs one."""
    env = os.environ if environ is None else environ
    given = env.get("OTEL_SERVICE_NAME", "").strip()
    if given and services == 1:
        return given
    return f"{given or PREFIX}-{service}"


def setup_tracing(services: Iterable[str], environ: Mapping[str, str] | None = None) -> bool:
    """Installs a provider for each of `services` when the environment asks for tracing (see `wanted`);
    True when tracing is on. Call once, from the entry point. No services (a CLI command that only calls
    them): nothing to trace, and the variables are not even read."""
    names = list(services)
    if not names:
        return False
    kind = wanted(environ)
    if not kind:
        return False

    def exporter() -> SpanExporter:
        if kind == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            return ConsoleSpanExporter()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout: from the OTEL_EXPORTER_OTLP_* variables

    install(names, exporter, batch=True, environ=environ)
    throttle(EXPORT_LOGGERS)  # a collector down for hours: a line a minute, not one a second per service
    if kind == "otlp":  # its lines quote the request's URL: an endpoint's password or token hidden there too
        hide_endpoint_secrets(EXPORT_LOGGERS, otlp_endpoint(environ))
    # Said once at start: whether spans go anywhere, and where, is otherwise seen only in the backend.
    log.info("tracing on: spans of %s to %s", ", ".join(names), destination(kind, environ))
    return True


def destination(kind: str, environ: Mapping[str, str] | None = None) -> str:
    """Where the spans go, for the start-up line: the URL the OTLP exporter posts to (its secrets hidden: an
    endpoint may carry a password or a token), or stdout for the console exporter."""
    if kind == "console":
        return "stdout (console exporter)"
    return f"{secrets_hidden(otlp_endpoint(environ))} (OTLP over HTTP)"


def otlp_endpoint(environ: Mapping[str, str] | None = None) -> str:
    """The URL the OTLP exporter posts spans to, as given (secrets included)."""
    env = os.environ if environ is None else environ
    url = (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
           or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip().rstrip("/") + "/v1/traces")
    if url == "/v1/traces":  # OTEL_TRACES_EXPORTER=otlp with no endpoint: the SDK's default
        url = "http://localhost:4318/v1/traces"
    return url


def install(services: Iterable[str], exporter: object, batch: bool = True,
            environ: Mapping[str, str] | None = None) -> dict[str, TracerProvider]:
    """A provider per service, exporting through `exporter` (a SpanExporter shared by all, or a callable
    making one per service); batched (BatchSpanProcessor), or each span at its end (tests)."""
    names = list(services)
    throttle(PROPAGATION_LOGGERS, max_chars=PROPAGATION_LINE_CHARS)  # a caller's trace context: it extracts it
    for service in names:
        made = exporter() if callable(exporter) and not isinstance(exporter, SpanExporter) else exporter
        resource = Resource.create({"service.name": service_name(service, len(names), environ),
                                    "service.namespace": PREFIX})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(made) if batch else SimpleSpanProcessor(made))  # type: ignore[arg-type]
        _providers[service] = provider
    return dict(_providers)


def shutdown_tracing() -> None:
    """Flushes the spans still queued and stops the exporters; tracing is off afterwards."""
    while _providers:
        _, provider = _providers.popitem()
        provider.shutdown()  # flushes first (BatchSpanProcessor.shutdown exports what is queued)


def enabled() -> bool:
    return bool(_providers)


def tracer(service: str) -> trace.Tracer:
    """The tracer of `service`: its provider's, or the no-op tracer while tracing is off."""
    provider = _providers.get(service)
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer(f"influencers.{service}")


def server_interceptors(service: str) -> list[grpc.ServerInterceptor]:
    """The OpenTelemetry server interceptor of `service` (the caller's context is read from the gRPC
    metadata), or none while tracing is off. Health checks are not traced (probes every few seconds), nor is
    the feed follower's ListChanges (ten calls a second from the leading analytics replica, part of no video),
    nor ingest's GetJob (polled by whoever follows a job: the CLI after each progress stream, scripts that
    detach). A WatchJob stream is one span as a whole, however long it runs."""
    provider = _providers.get(service)
    if provider is None:
        return []
    from opentelemetry.instrumentation.grpc import filters, server_interceptor

    untraced = filters.any_of(filters.health_check(), filters.method_name("ListChanges"),
                              filters.method_name("GetJob"))
    return [server_interceptor(tracer_provider=provider, filter_=filters.negate(untraced))]


def traced_channel(channel: grpc.Channel, service: str) -> grpc.Channel:
    """`channel` with the OpenTelemetry client interceptor of the calling `service` (the current context
    goes into each call's metadata), or `channel` itself while tracing is off or `service` is not ours."""
    provider = _providers.get(service)
    if provider is None:
        return channel
    from opentelemetry.instrumentation.grpc import client_interceptor, filters
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

    from services.common.client_span_status import ClientTracerProvider

    # Expected answers (GetVideo's NOT_FOUND for a new video) stay UNSET; errors get a one-line description.
    interceptor = client_interceptor(tracer_provider=ClientTracerProvider(provider),
                                     filter_=filters.negate(filters.health_check()))
    return intercept_channel(channel, interceptor)  # type: ignore[no-any-return]


def instrument_flask(app: object, service: str = "analytics") -> None:
    """Traces the page's requests (opentelemetry-instrumentation-flask) while tracing is on."""
    provider = _providers.get(service)
    if provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor.instrument_app(app, tracer_provider=provider)


def current_trace_id() -> str:
    """The 32-hex-digit id of the current span's trace, or "" when there is none (tracing off)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def current_span_id() -> str:
    """The 16-hex-digit id of the current span, or "" when there is none (tracing off)."""
    context = trace.get_current_span().get_span_context()
    return format(context.span_id, "016x") if context.is_valid else ""


def record_span(service: str, name: str, start_ns: int, end_ns: int, attributes: Mapping[str, object] | None = None
                ) -> None:
    """A finished child span of the current span, for work timed elsewhere (identity's worker processes):
    `start_ns`, `end_ns` in ns since the epoch. Nothing while tracing is off."""
    if service not in _providers:
        return
    span = tracer(service).start_span(name, start_time=start_ns, attributes=dict(attributes or {}))  # type: ignore[arg-type]
    span.end(end_time=end_ns)


def current_traceparent() -> str:
    """The current span's W3C trace context as a `traceparent` value, or "" when there is none (tracing off):
    for work another service does later, out of any call (the change feed), to continue this trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


@contextlib.contextmanager
def span_in(service: str, name: str, traceparent: str, attributes: Mapping[str, object] | None = None
            ) -> Iterator[None]:
    """A span of `service` for work caused by the span `traceparent` names (see `current_traceparent`): its
    child, so in its trace; a root span when `traceparent` is empty or not one. Nothing while `service` traces
    nothing."""
    if service not in _providers:
        yield
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent}) if traceparent else None
    with tracer(service).start_as_current_span(name, context=parent, attributes=dict(attributes or {})):  # type: ignore[arg-type]
        yield


_BAGGAGE = {"job_id": "influencers.job_id", "row": "influencers.row"}


@contextlib.contextmanager
def row_baggage(job_id: str, row: int) -> Iterator[None]:
    """While tracing is on, the job and row go along with the trace context (W3C baggage in the gRPC metadata),
    so that identity's and analytics' log lines of the row carry them too (`baggage_fields`)."""
    if not _providers:
        yield
        return
    ctx = baggage.set_baggage(_BAGGAGE["row"], str(row), baggage.set_baggage(_BAGGAGE["job_id"], job_id))
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def baggage_fields() -> dict[str, str]:
    """The job and row a caller sent along (see `row_baggage`), by log field name."""
    found = {field: baggage.get_baggage(key) for field, key in _BAGGAGE.items()}
    return {k: str(v) for k, v in found.items() if v is not None}
