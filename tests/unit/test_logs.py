"""Log lines: one event a line, text or JSON, carrying the row's context while a row runs."""

import io
import json
import logging
import re
import warnings

import pytest
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from services.common import logs
from services.common.logs import bind, bound, configure_logging, row_context
from services.common.settings import Settings, SettingsError


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    logging.captureWarnings(False)  # pytest restores warnings.showwarning after each test; logging must not keep it


def test_json_lines_carry_the_job_row_and_video_while_a_row_runs_and_not_after(restore_root):
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    log = logging.getLogger("services.ingest.pipeline")
    with row_context("job1", 3):
        log.info("fetched")
        bind(video_id="abc")
        log.warning("video failed", extra={"reason": "a.mp4: not a video"})
    log.info("idle")
    first, failed, idle = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["job_id"] == "job1" and first["row"] == 3 and "video_id" not in first
    assert failed == {**failed, "event": "video failed", "level": "warning", "logger": "services.ingest.pipeline",
                      "reason": "a.mp4: not a video", "job_id": "job1", "row": 3, "video_id": "abc"}
    assert failed["timestamp"].endswith("Z")
    assert not {"job_id", "row", "video_id"} & set(idle)


def test_a_traceback_stays_inside_its_json_line(restore_root):
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        logging.getLogger("x").warning("video failed", exc_info=exc)
    (line,) = out.getvalue().splitlines()
    assert "ValueError" in json.dumps(json.loads(line)["exception"])


def test_a_librarys_python_warning_is_one_json_line_not_two_raw_lines_on_stderr(restore_root, capsys):
    # Before, qdrant-client's UserWarnings reached stderr as Python prints them (the warning, then the source line),
    # between the JSON lines.
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Api key is used with an insecure connection.", UserWarning, stacklevel=1)
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "warning" and "Api key is used with an insecure connection." in record["event"]
    assert capsys.readouterr().err == ""


def test_every_json_line_of_a_process_running_one_service_names_that_service(restore_root):
    # Before, a fleet's collected lines said only the logger (services.common.rpc, influencers.cli...), not which
    # of the three services wrote them.
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out, service="ingest")
    logging.getLogger("services.common.rpc").info("serving")
    with row_context("job1", 1):
        logging.getLogger("services.ingest.jobs").info("video done")
    assert [json.loads(line)["service"] for line in out.getvalue().splitlines()] == ["ingest", "ingest"]


def test_in_a_process_of_all_three_services_a_services_own_lines_name_it_and_shared_lines_name_none(restore_root):
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    logging.getLogger("services.identity.server").info("assigned")
    logging.getLogger("services.analytics.feed").info("applied")
    logging.getLogger("services.common.rpc").info("serving")
    logging.getLogger("influencers.cli").info("report written")
    logging.getLogger("services.ingestion_tool.x").info("not a service")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("service") for line in lines] == ["identity", "analytics", None, None, None]


def test_a_json_traceback_carries_no_local_variables_so_no_password_of_a_frame_reaches_the_log(restore_root):
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)

    def connect(conninfo: str) -> None:
        raise ConnectionError("password authentication failed")

    try:
        connect("host=db user=app password=hunter2-secret")
    except ConnectionError as exc:
        logging.getLogger("x").error("store error", exc_info=exc)
    (line,) = out.getvalue().splitlines()
    assert "password authentication failed" in line and "connect" in line
    assert "hunter2-secret" not in line


def test_text_lines_read_time_level_logger_event_then_the_fields(restore_root):
    out = io.StringIO()
    configure_logging("text", "INFO", stream=out)
    with bound(video_id="v1"):
        logging.getLogger("services.identity.server").info("correction", extra={"correction": "merge"})
    logging.getLogger("quiet").debug("not shown at INFO")
    (line,) = out.getvalue().splitlines()
    assert " INFO services.identity.server: correction " in line
    assert "correction=merge" in line and "video_id=v1" in line


def test_a_log_line_during_a_progress_bar_is_written_above_the_bar_not_inside_it(restore_root, capsys):
    configure_logging("text", "INFO")  # stderr, as the CLI sets it up
    bar = tqdm(total=3, desc="ingest")
    with logging_redirect_tqdm():
        bar.update(1)
        logging.getLogger("services.ingest.pipeline").warning("video failed")
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    line = next(part for part in err.replace("\r", "\n").split("\n") if "video failed" in part)
    assert line.split(" ", 1)[1].startswith("WARNING services.ingest.pipeline: video failed")
    assert "ingest:" not in line


@pytest.mark.parametrize(("variable", "value"), [("INFLUENCERS_LOG_FORMAT", "xml"),
                                                  ("INFLUENCERS_LOG_LEVEL", "loud")])
def test_a_bad_log_setting_is_refused_naming_its_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_with_tracing_on_a_line_carries_the_trace_and_span_ids_and_the_job_and_row_sent_along_as_baggage(restore_root):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import tracing

    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    tracing.install(["identity"], InMemorySpanExporter(), batch=False)
    try:
        with tracing.row_baggage("job9", 4), tracing.tracer("identity").start_as_current_span("assign"):
            trace_id, span_id = tracing.current_trace_id(), tracing.current_span_id()
            logging.getLogger("services.identity.server").warning("slow")
    finally:
        tracing.shutdown_tracing()
    (line,) = (json.loads(x) for x in out.getvalue().splitlines())
    assert (line["trace_id"], line["span_id"], line["job_id"], line["row"]) == (trace_id, span_id, "job9", 4)
    assert len(span_id) == 16 and int(span_id, 16) != 0


def test_a_text_event_with_line_breaks_stays_on_its_line(restore_root):
    # An RpcError's text ("<_InactiveRpcError ...>\n\tstatus = ...\n\tdetails = ...") is what the feed follower
    # logs every second while identity is down: each event must stay one line, its breaks escaped.
    out = io.StringIO()
    configure_logging("text", "INFO", stream=out)
    log = logging.getLogger("services.analytics.feed")
    log.warning("following identity's feed failed: %s", 'rpc\n\tstatus = UNAVAILABLE\n\tdetails = "refused"')
    log.warning("video failed", extra={"reason": "a\nb", "count": 2})
    first, second = out.getvalue().splitlines()
    assert first.endswith('failed: rpc\\n\\tstatus = UNAVAILABLE\\n\\tdetails = "refused"')
    assert second.endswith(r"video failed reason='a\nb' count=2")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_baggage_a_caller_forged_is_logged_as_text_shown_escaped_and_never_costs_the_line(restore_root, log_format):
    # Any gRPC caller may send W3C baggage: a row that is no number made the JSON and text lines fail in the
    # processor (int('abc')), and logging printed "--- Logging error ---" instead of the line.
    from opentelemetry import baggage
    from opentelemetry import context as otel_context
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import tracing

    out = io.StringIO()
    configure_logging(log_format, "INFO", stream=out)
    tracing.install(["identity"], InMemorySpanExporter(), batch=False)
    forged = baggage.set_baggage("influencers.row", "1e9\nINFO forged line",
                                 baggage.set_baggage("influencers.job_id", "j" * 5000))
    token = otel_context.attach(forged)
    try:
        with tracing.tracer("identity").start_as_current_span("assign"):
            logging.getLogger("services.identity.server").warning("slow")
    finally:
        otel_context.detach(token)
        tracing.shutdown_tracing()
    (line,) = out.getvalue().splitlines()
    if log_format == "json":
        fields = json.loads(line)
        assert fields["event"] == "slow" and fields["row"] == "1e9\nINFO forged line"
        assert len(fields["job_id"]) < 200
    else:
        assert "slow" in line and r"row='1e9\nINFO forged line'" in line and len(line) < 500


def test_a_python_warning_is_its_category_and_message_on_one_line_with_its_source_a_field(restore_root):
    # Before, the event was Python's text: "/path/x.py:12: UserWarning: ...\n  warnings.warn(...)\n", the source
    # line and a line break inside it.
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("resource_tracker: There appear to be 5 leaked semaphore objects", UserWarning, stacklevel=1)
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "UserWarning: resource_tracker: There appear to be 5 leaked semaphore objects"
    assert record["logger"] == "py.warnings" and re.fullmatch(r".*/test_logs\.py:\d+", record["source"])


def test_the_entry_points_log_set_up_is_exported_for_the_fork_server_before_any_decoder_exists(restore_root,
                                                                                                monkeypatch):
    # Exported by configure_logging, at the entry point before threads start: the decoders once set the
    # environment themselves, while the services' threads of `influencers run` were already running.
    monkeypatch.delenv(logs.SETUP_VARIABLE, raising=False)
    configure_logging("json", "WARNING", service="ingest")
    assert logs.exported_setup() == logs.LogSetup("json", "WARNING", "ingest")
    configure_logging("text", "INFO", stream=io.StringIO())  # a stream of its own: nothing to hand on
    assert logs.exported_setup() is None
