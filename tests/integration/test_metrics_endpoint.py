"""`influencers service NAME` serves /metrics when INFLUENCERS_METRICS_PORT is set (and nothing without it),
with its readiness and its own gauges; `serve` names its metrics URL beside the page's."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def scrape(port: int, timeout_s: float, ready: str = "") -> str:
    """The text of http://127.0.0.1:port/metrics once it answers (within `timeout_s`); with `ready` (a service),
    once it says that service is ready (a `service` process answers from its start, ready 0 while it starts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            if not ready or f'influencers_ready{{service="{ready}"}} 1.0' in text:
                return text
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no metrics{' of a ready ' + ready if ready else ''} within {timeout_s} s")
        time.sleep(0.2)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    return subprocess.Popen([sys.executable, "-m", "influencers", *args], cwd=ROOT, env={**clean, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    return err


def test_an_ingest_service_with_the_variable_set_serves_its_metrics(tmp_path):
    port = free_port()
    process = start(["service", "ingest", "--data-dir", str(tmp_path / "d")],
                    {"INFLUENCERS_INGEST_PORT": "0", "INFLUENCERS_METRICS_PORT": str(port)})
    try:
        text = scrape(port, 60, ready="ingest")
    finally:
        err = stop(process)
    assert 'influencers_ready{service="ingest"} 1.0' in text, err
    assert 'influencers_job_rows{state="pending"} 0.0' in text
    assert "influencers_job_finalising_seconds 0.0" in text, "no job waits to end"
    assert "grpc_server_handled_total" in text and "process_resident_memory_bytes" in text
    # Only families ingest updates: the page's requests are analytics', never counted here.
    assert "influencers_videos_total" in text and "http_requests_total" not in text
    assert "Traceback" not in err
    # SIGTERM leaves a trace in the log: the process was stopped, not lost.
    # Each line of `influencers service NAME` ends naming its service (a fleet's logs collected together).
    last = err.rstrip().splitlines()[-1]
    assert "ingest stopping on SIGTERM" in err and last.endswith("ingest stopped service=ingest"), err


def test_an_analytics_service_lists_its_own_families_and_none_of_ingest_or_identity(tmp_path):
    port = free_port()
    process = start(["service", "analytics", "--data-dir", str(tmp_path / "d")],
                    {"INFLUENCERS_ANALYTICS_PORT": "0", "INFLUENCERS_WEB_PORT": "0",
                     "INFLUENCERS_METRICS_PORT": str(port)})
    try:
        text = scrape(port, 60, ready="analytics")
    finally:
        err = stop(process)
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE influencers_")}
    # Its build, certificates (none: no TLS), readiness and feed gauges; ingest's rows and stages, identity's
    # workers: none, not even at 0.
    assert families == {"influencers_build_info", "influencers_tls_certificate_expiration_timestamp_seconds",
                        "influencers_ready", "influencers_feed_position", "influencers_feed_lag",
                        "influencers_feed_resync_pages", "influencers_feed_changes_applied_total",
                        "influencers_feed_resyncs_total"}, err
    (build,) = [line for line in text.splitlines() if line.startswith("influencers_build_info{")]
    assert 'service="analytics"' in build and 'revision="unknown"' not in build, build  # a checkout knows its own
    assert "http_request_duration_seconds" in text and "grpc_server_handled_total" in text


def test_a_service_without_the_variable_serves_no_metrics(tmp_path):
    port = free_port()
    process = start(["service", "ingest", "--data-dir", str(tmp_path / "d")], {"INFLUENCERS_INGEST_PORT": "0"})
    try:
        # Asked of the process itself: another program on 9464 (a user's influencers run) proves nothing. Its gRPC
        # port listening: started (was a 3 s sleep, which a loaded machine's start outlasted: nothing listened yet).
        deadline = time.monotonic() + 60
        while not (listening := {c.laddr.port for c in psutil.Process(process.pid).net_connections(kind="tcp")
                                 if c.status == psutil.CONN_LISTEN}):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the service never listened"
            time.sleep(0.2)
        time.sleep(1.0)  # a metrics endpoint, were there one, opens right after the service's own port
        listening = {c.laddr.port for c in psutil.Process(process.pid).net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN}
        assert not listening & {port, 9464}, listening
    finally:
        stop(process)


def test_connections_to_the_metrics_port_that_send_nothing_hold_no_thread_past_the_cap_and_are_closed_when_idle():
    # The endpoint (prometheus_client's server) gave each connection a thread with no timeout and no limit, in the
    # services' own process: 200 idle sockets were 200 threads held for good, and no token guards the port.
    import threading
    from contextlib import ExitStack

    from services.common.metrics_http import serve_metrics_http

    httpd, thread = serve_metrics_http("127.0.0.1", 0, max_connections=4, idle_s=1.0)
    port = httpd.server_address[1]
    before = threading.active_count()
    try:
        with ExitStack() as stack:
            idle = [stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
                    for _ in range(40)]
            assert idle[-1].recv(1) == b""  # past the cap: closed as accepted
            assert threading.active_count() <= before + 4
            assert idle[0].recv(1) == b""  # silent for idle_s: closed, its thread freed
            assert "python_info" in scrape(port, 30)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_metrics_connection_closed_for_its_silence_writes_no_traceback(capsys):
    # socketserver printed each connection its read timeout closed as a raw 15-line traceback on stderr
    # ("Exception occurred during processing of request ... TimeoutError: timed out"), between the JSON records
    from services.common.metrics_http import serve_metrics_http

    httpd, thread = serve_metrics_http("127.0.0.1", 0, idle_s=0.2)
    try:
        with socket.create_connection(httpd.server_address[:2], timeout=10) as silent, \
                socket.create_connection(httpd.server_address[:2], timeout=10) as trickled:
            trickled.sendall(b"GET /metr")
            assert silent.recv(1) == b"" and trickled.recv(1) == b""
        assert "python_info" in scrape(httpd.server_address[1], 30)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert "Traceback" not in capsys.readouterr().err


def test_connections_trickling_a_request_head_are_closed_at_the_head_deadline_and_a_scrape_gets_through():
    # Before, only silence closed a connection: a byte every few seconds kept it, and 16 such connections (the cap)
    # kept every scrape out for as long as they cared to trickle.
    import threading
    from contextlib import ExitStack

    from services.common.metrics_http import serve_metrics_http

    httpd, thread = serve_metrics_http("127.0.0.1", 0, max_connections=4, idle_s=10.0, head_s=1.0)
    port = httpd.server_address[1]
    stop = threading.Event()
    closed: list[float] = []

    def trickle(conn: socket.socket, start: float) -> None:
        try:
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                conn.sendall(bytes([byte]))
                if stop.wait(0.3):
                    return
        except OSError:
            closed.append(time.monotonic() - start)

    try:
        with ExitStack() as stack:
            conns = [stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10)) for _ in range(4)]
            start = time.monotonic()
            senders = [threading.Thread(target=trickle, args=(c, start), daemon=True) for c in conns]
            for sender in senders:
                sender.start()
            assert "python_info" in scrape(port, 8), "a slot was freed for the scrape"
            for sender in senders:
                sender.join(8)
            assert len(closed) == 4 and max(closed) < 6, closed
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
