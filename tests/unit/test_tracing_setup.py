"""Tracing is set up from the standard OTEL_* variables alone; with none set, nothing is installed."""

import logging

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.common import tracing
from services.common.settings import SettingsError

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.fixture(autouse=True)
def _off_afterwards():
    yield
    tracing.shutdown_tracing()


def test_with_no_otel_variables_no_tracer_provider_is_installed():
    assert tracing.setup_tracing(tracing.SERVICES, environ={}) is False
    assert not tracing.enabled()
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert isinstance(tracing.tracer("ingest"), trace.NoOpTracer)
    assert tracing.server_interceptors("identity") == []
    channel = grpc.insecure_channel("127.0.0.1:1")
    assert tracing.traced_channel(channel, "ingest") is channel
    assert tracing.current_trace_id() == ""


def test_an_otlp_endpoint_turns_tracing_on_with_one_named_provider_per_service():
    assert tracing.setup_tracing(tracing.SERVICES, environ=ENDPOINT) is True
    assert tracing.enabled()
    assert len(tracing.server_interceptors("identity")) == 1
    with tracing.tracer("ingest").start_as_current_span("video") as span:
        assert tracing.current_trace_id() == format(span.get_span_context().trace_id, "032x")
        assert span.resource.attributes["service.name"] == "influencers-ingest"
    tracing.shutdown_tracing()
    assert not tracing.enabled(), "spans are flushed and tracing is off after a stop"


@pytest.mark.parametrize("environ", [
    {**ENDPOINT, "OTEL_SDK_DISABLED": "true"},
    {**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
    {"OTEL_SERVICE_NAME": "shop"},
])
def test_tracing_stays_off_when_disabled_or_given_no_endpoint(environ):
    assert tracing.wanted(environ) == ""


def test_the_traces_endpoint_alone_or_an_exporter_said_outright_turns_tracing_on():
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}) == "otlp"
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "console"}) == "console"


@pytest.mark.parametrize(("environ", "named"), [
    ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({**ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
    ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
])
def test_a_protocol_or_exporter_this_build_cannot_serve_is_refused_naming_its_variable(environ, named):
    with pytest.raises(SettingsError, match=named):
        tracing.wanted(environ)


def test_service_names_carry_the_service_and_otel_service_name_replaces_the_prefix_or_the_whole_name():
    assert tracing.service_name("identity", 3, {}) == "influencers-identity"
    assert tracing.service_name("identity", 3, {"OTEL_SERVICE_NAME": "shop"}) == "shop-identity"
    assert tracing.service_name("identity", 1, {"OTEL_SERVICE_NAME": "shop-faces"}) == "shop-faces"
    assert tracing.service_name("identity", 1, {}) == "influencers-identity"


def test_a_command_that_runs_no_service_installs_nothing_and_ignores_the_variables():
    assert tracing.setup_tracing([], environ={**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) is False
    assert not tracing.enabled()


def test_tracing_says_once_at_start_where_its_spans_go_without_the_endpoints_secrets(caplog):
    caplog.set_level(logging.INFO, logger="services.common.tracing")
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:hunter2@collector:4318/"}
    assert tracing.setup_tracing(["ingest", "identity"], environ=environ)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "services.common.tracing"]
    assert line == "tracing on: spans of ingest, identity to https://***@collector:4318/v1/traces (OTLP over HTTP)"
    assert tracing.destination("otlp", {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/x?token=abc"}) == \
        "http://c:4318/x?token=*** (OTLP over HTTP)"
    assert tracing.destination("otlp", {}) == "http://localhost:4318/v1/traces (OTLP over HTTP)"
    assert tracing.destination("console", {}) == "stdout (console exporter)"
