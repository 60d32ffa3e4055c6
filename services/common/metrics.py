"""Prometheus metrics of a process: the product's families, gauges read at scrape time, and the HTTP endpoint
(`http://HOST:INFLUENCERS_METRICS_PORT/metrics`; port 0 = no endpoint).

One registry per process, prometheus-client's default one (it also carries the process_* and python_*
collectors): in `influencers run` the three services share it, so that one endpoint shows them all. Counters
and histograms are created once, at the first `families()` call, whatever the number of stacks a process
starts (the tests start many), but registered only by `register_service(name)` as each service starts: a
family shows at 0 on the endpoints of the services that update it (SERVICE_FAMILIES), never on the others'
(influencers_videos on identity's, where it could never move). Gauges are read through one `Gauges` collector
to which each service attaches the callables that read its state, and from which it detaches them on stop.

Label values are bounded: statuses, stage names, job-row states, gRPC methods, Flask url rules and status
codes, the build (one value a process) and the certificates of the TLS files (a few); never an id of ours, a URL
or a message. gRPC families: grpc_metrics.py; the page's: web/http_metrics.py.
"""

from __future__ import annotations

import errno
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from services.common import build_info
from services.common.certificates import CertificateFacts, certificate_facts, pem_certificates
from services.common.metrics_http import serve_metrics_http
from services.common.stage_clock import CPU_SUFFIX

log = logging.getLogger(__name__)

VIDEO_STATUSES = ("done", "failed", "duplicate")
STAGES = ("fetch", "decode", "detect", "encode", "assign", "record")
# The worker processes a service replaces when one ends under it: ingest's decoders, identity's face workers;
# each ended by a crash (a signal, the OOM killer, an exit) or stopped after its time limit.
CHILDREN = ("decoder", "face_worker")
CHILD_ENDINGS = ("crash", "timeout")
# Seconds, for work that takes from milliseconds (a GetVideo, a JPEG) to minutes (a long video's analysis, a
# progress stream): the client library's default buckets stop at 10 s.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# The page's requests: a page of the report, a CSV export, a correction waiting for the feed (<= 10 s).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SERVICES = ("ingest", "identity", "analytics")
_GRPC_SERVER = ("grpc_server_started", "grpc_server_handled", "grpc_server_seconds", "grpc_server_received",
                "grpc_server_sent")
_GRPC_CLIENT = ("grpc_client_started", "grpc_client_handled", "grpc_client_seconds")
# The families (fields of Families) each service updates: ingest counts rows and its stages (fetch, decode,
# record) and replaces its decoders; identity times detect/encode/assign and replaces its face workers; the
# page is analytics'. Every gRPC server reports its readiness; the gRPC client families are of the services
# that call another (ingest and analytics call identity; identity calls none).
SERVICE_FAMILIES = {
    "ingest": ("build_info", "tls_expiry", "videos", "stage_seconds", "stage_cpu", "ready", "child_restarts",
               *_GRPC_SERVER, *_GRPC_CLIENT),
    "identity": ("build_info", "tls_expiry", "stage_seconds", "stage_cpu", "ready", "child_restarts", *_GRPC_SERVER),
    "analytics": ("build_info", "tls_expiry", "ready", *_GRPC_SERVER, *_GRPC_CLIENT, "http_requests",
                  "http_seconds", "feed_changes", "feed_resyncs"),
}
# Of a server of another name (a test's): its build, certificates, readiness and gRPC alone.
OTHER_FAMILIES = ("build_info", "tls_expiry", "ready", *_GRPC_SERVER, *_GRPC_CLIENT)
# The label values each service shows from the start, at 0 (its own stages and worker processes).
SERVICE_STAGES = {"ingest": ("fetch", "decode", "record"), "identity": ("detect", "encode", "assign")}
SERVICE_CHILDREN = {"ingest": "decoder", "identity": "face_worker"}


@dataclass(frozen=True)
class Families:
    """The counters and histograms of the product (the gauges are in `GAUGES`)."""

    build_info: Gauge
    tls_expiry: Gauge
    videos: Counter
    stage_seconds: Histogram
    stage_cpu: Counter
    ready: Gauge
    child_restarts: Counter
    grpc_server_started: Counter
    grpc_server_handled: Counter
    grpc_server_seconds: Histogram
    grpc_server_received: Counter
    grpc_server_sent: Counter
    grpc_client_started: Counter
    grpc_client_handled: Counter
    grpc_client_seconds: Histogram
    http_requests: Counter
    http_seconds: Histogram
    feed_changes: Counter
    feed_resyncs: Counter


@functools.cache
def families() -> Families:
    """The families, created at the first call (later calls return them) and registered by none: a service's
    are registered by `register_service`. Updating one no process registered is harmless (it shows nowhere).
    The gauge collector is registered in the process's registry here."""
    # `*_created` series double every counter's and histogram's output and no dashboard of ours reads them.
    disable_created_metrics()
    registry = None
    call = ("grpc_type", "grpc_service", "grpc_method")
    made = Families(
        # Prometheus' convention (prometheus_build_info): 1, the build in the labels; `revision` is "unknown" when
        # neither the build nor a checkout said it (build_info.py).
        build_info=Gauge("influencers_build_info", "1, labelled with the build the service runs: the package's "
                         "version, the git revision it was built from, the Python running it",
                         ["version", "revision", "python", "service"], registry=registry),
        # cert-manager's name for the same reading (certmanager_certificate_expiration_timestamp_seconds).
        tls_expiry=Gauge("influencers_tls_certificate_expiration_timestamp_seconds", "When each certificate of the "
                         "files this process loaded expires (notAfter, seconds since the epoch), by the setting "
                         "naming the file (INFLUENCERS_TLS_CERT: the chain its servers present, read again when "
                         "the files change; INFLUENCERS_TLS_CA: its certificate that expires first), the subject's "
                         "common name and the serial number",
                         ["setting", "subject", "serial"], registry=registry),
        videos=Counter("influencers_videos", "Manifest rows finished, by outcome (done, failed, duplicate)",
                       ["status"], registry=registry),
        stage_seconds=Histogram("influencers_stage_seconds", "Seconds one video spent in a stage",
                                ["stage"], buckets=SECONDS_BUCKETS, registry=registry),
        stage_cpu=Counter("influencers_stage_cpu_seconds", "CPU seconds spent in a stage, over all videos (the "
                          "thread's CPU time: what the stage cost, however long it waited for a core)", ["stage"],
                          registry=registry),
        # `service` is also a label discovery may attach to a target (compose.yml does): our scrape configs keep
        # ours (honor_labels), since `run` serves the three services' readiness from one endpoint.
        ready=Gauge("influencers_ready", "1 while the service reports SERVING on its readiness health check "
                    "(its stores reachable), else 0", ["service"], registry=registry),
        child_restarts=Counter("influencers_child_restarts", "Worker processes replaced after they ended under "
                               "work: ingest's decoders, identity's face workers; by how they ended (crash: a "
                               "signal, the OOM killer or an exit; timeout: stopped after the time limit)",
                               ["child", "reason"], registry=registry),
        grpc_server_started=Counter("grpc_server_started", "RPCs started on the server", call, registry=registry),
        grpc_server_handled=Counter("grpc_server_handled", "RPCs completed on the server, whatever their status",
                                    [*call, "grpc_code"], registry=registry),
        grpc_server_seconds=Histogram("grpc_server_handling_seconds", "Seconds from an RPC's start to its "
                                      "completion on the server", call, buckets=SECONDS_BUCKETS,
                                      registry=registry),
        grpc_server_received=Counter("grpc_server_msg_received", "Messages received by the server", call,
                                     registry=registry),
        grpc_server_sent=Counter("grpc_server_msg_sent", "Messages sent by the server", call, registry=registry),
        grpc_client_started=Counter("grpc_client_started", "RPCs started by clients", call, registry=registry),
        grpc_client_handled=Counter("grpc_client_handled", "RPCs completed by clients, whatever their status",
                                    [*call, "grpc_code"], registry=registry),
        grpc_client_seconds=Histogram("grpc_client_handling_seconds", "Seconds from an RPC's start to its "
                                      "completion on the client", call, buckets=SECONDS_BUCKETS,
                                      registry=registry),
        http_requests=Counter("http_requests", "Requests answered by the report page, by Flask url rule "
                              "(\"other\" when none matched) and status code", ["route", "status"],
                              registry=registry),
        http_seconds=Histogram("http_request_duration_seconds", "Seconds the report page took to answer a "
                               "request (to its response, before the body is streamed)", ["route"],
                               buckets=HTTP_BUCKETS, registry=registry),
        feed_changes=Counter("influencers_feed_changes_applied", "Changes of identity's feed analytics has "
                             "applied by following it (a resync's snapshot is not counted)", registry=registry),
        feed_resyncs=Counter("influencers_feed_resyncs", "Resyncs ended: the appearances rebuilt from identity's "
                             "snapshot (analytics too far behind, or identity's feed made again)",
                             registry=registry),
    )
    for status in VIDEO_STATUSES:  # every status shows from the start, at 0
        made.videos.labels(status)
    REGISTRY.register(GAUGES)
    return made


_registered_lock = threading.Lock()
# A registry -> the families (fields of Families) registered in it.
_registered: weakref.WeakKeyDictionary[CollectorRegistry, set[str]] = weakref.WeakKeyDictionary()


def register_service(service: str, registry: CollectorRegistry = REGISTRY) -> None:
    """Registers in `registry` the families `service` updates (SERVICE_FAMILIES; OTHER_FAMILIES for a name not
    among SERVICES), those already there left as they are: a process hosting several services shows each
    family once. The service's stages and worker processes show from then on, at 0; its build, at 1."""
    made = families()
    made.build_info.labels(build_info.version(), build_info.revision(), build_info.python_version(), service).set(1)
    for stage in SERVICE_STAGES.get(service, ()):
        made.stage_seconds.labels(stage)
        made.stage_cpu.labels(stage)
    if service in SERVICE_CHILDREN:
        for reason in CHILD_ENDINGS:
            made.child_restarts.labels(SERVICE_CHILDREN[service], reason)
    with _registered_lock:
        done = _registered.setdefault(registry, set())
        for name in SERVICE_FAMILIES.get(service, OTHER_FAMILIES):
            if name not in done:
                registry.register(getattr(made, name))
                done.add(name)


_certificates_lock = threading.Lock()
_certificates: dict[str, list[tuple[str, str, str]]] = {}  # setting -> the label values of its series


def record_certificates(setting: str, pem: bytes, earliest_only: bool = False) -> None:
    """The expiry of each certificate of `pem`, the file `setting` (an environment variable's name) names now: its
    series replace those of the file's earlier contents (a renewed certificate's predecessor would otherwise stay,
    and the alert on it fire). A certificate that cannot be read is left out, and logged. `earliest_only`: one series
    for the file, the certificate of it that expires first and has not expired yet (the first to expire of them all
    when all have): an authorities' file may be the system's bundle, ~150 roots, each its own series otherwise (and
    the roots it holds expired already, which verification ignores, a firing alert each)."""
    gauge = families().tls_expiry
    facts = []
    for der in pem_certificates(pem):
        try:
            facts.append(certificate_facts(der))
        except ValueError as exc:
            log.warning("%s: a certificate's expiry cannot be read (%s): it has no %s series", setting, exc,
                        "influencers_tls_certificate_expiration_timestamp_seconds")
    if earliest_only and facts:
        now = time.time()
        facts = [min((f for f in facts if f.not_after > now), default=min(facts, key=_expiry), key=_expiry)]
    with _certificates_lock:
        for labels in _certificates.pop(setting, []):
            gauge.remove(*labels)
        for fact in facts:
            labels = (setting, fact.subject, fact.serial)
            gauge.labels(*labels).set(fact.not_after)
            _certificates.setdefault(setting, []).append(labels)


def _expiry(facts: CertificateFacts) -> float:
    return facts.not_after


def count_video(status: str) -> None:
    """Counts a finished manifest row by its status word; a word outside VIDEO_STATUSES is not counted."""
    if status in VIDEO_STATUSES:
        families().videos.labels(status).inc()


def count_child_restart(child: str, reason: str) -> None:
    """Counts a worker process replaced because it ended under work (`child` in CHILDREN, `reason` in
    CHILD_ENDINGS; other words are not counted)."""
    if child in CHILDREN and reason in CHILD_ENDINGS:
        families().child_restarts.labels(child, reason).inc()


def count_feed_changes(n: int) -> None:
    """Counts `n` changes of identity's feed applied by analytics' follower."""
    families().feed_changes.inc(n)


def count_feed_resync() -> None:
    """Counts a resync of analytics' follower ended (the snapshot applied and its position stored)."""
    families().feed_resyncs.inc()


def observe_stages(seconds: Mapping[str, float]) -> None:
    """Observes the STAGES among `seconds` (stage -> wall seconds; "<stage>.cpu" -> CPU seconds, counted in
    influencers_stage_cpu_seconds_total); other keys are ignored (label values bounded)."""
    made = families()
    for stage, value in seconds.items():
        if stage in STAGES:
            made.stage_seconds.labels(stage).observe(value)
        elif stage.endswith(CPU_SUFFIX) and stage[: -len(CPU_SUFFIX)] in STAGES and value >= 0:
            made.stage_cpu.labels(stage[: -len(CPU_SUFFIX)]).inc(value)


# ---- gauges, read at scrape time ----------------------------------------------------------------------------

GAUGE_HELP = {
    "influencers_faces_stored": "Faces in identity's vector store",
    "influencers_influencers": "Confirmed influencers in identity's store",
    "influencers_review_items": "Items in identity's \"same person?\" review queue",
    "influencers_feed_head": "Position of the newest change in identity's change feed",
    "influencers_feed_position": "Position of the last change of identity's feed analytics has applied",
    "influencers_feed_lag": "Changes identity has that analytics has not applied (as of the follower's last "
                            "read of the feed)",
    "influencers_feed_resync_pages": "Pages of identity's snapshot the resync under way has applied (0 when "
                                     "none is under way: it falls to 0 when a resync ends or starts again)",
    "influencers_job_rows": "Manifest rows of the ingest jobs not yet ended, by state (pending, running, "
                            "finished, dropped)",
    "influencers_job_finalising_seconds": "Seconds the longest-waiting ingest job has had an outcome for every "
                                          "row without ending (its reconcile), from the time the job store keeps "
                                          "of it (the same on every replica, across restarts); 0 when none",
}
# The label a gauge's values are split by, for the gauges whose source answers a mapping.
GAUGE_LABELS = {"influencers_job_rows": "state"}


class Cached:
    """A reading that costs too much for every scrape (a count over a million faces): answered from the last
    value while it is younger than `max_age_s` seconds; an older one is refreshed on a thread of its own, and
    the scrape answers the old value meanwhile. The first reading is taken at once. `max_age_s` 0: every read."""

    def __init__(self, read: Callable[[], float | Mapping[str, float]], max_age_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._value: float | Mapping[str, float] | None = None
        self._at = 0.0
        self._refreshing = False

    def value(self) -> float | Mapping[str, float] | None:
        """The reading; None when the first one failed (the gauge is then left out of this scrape)."""
        with self._lock:
            now_please = self._value is None or self._max_age_s <= 0
            stale = not now_please and self._clock() - self._at >= self._max_age_s
            if stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="metrics-refresh", daemon=True).start()
        if now_please:
            self._refresh()
        return self._value

    def _refresh(self) -> None:
        try:
            value = self._read()
        except Exception:  # noqa: BLE001 - a store down: the gauge keeps its last value; readiness says why
            log.debug("a metrics reading failed", exc_info=True)
            value = None
        with self._lock:
            if value is not None:
                self._value, self._at = value, self._clock()
            self._refreshing = False


@dataclass
class _Attached:
    name: str
    reading: Cached
    token: object = field(default_factory=object)


class Gauges:
    """The collector of the gauges read at scrape time. A service attaches a reading per gauge and detaches it
    on stop; when several are attached under one name (stacks started one after another in a test process),
    the newest answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attached: list[_Attached] = []

    def attach(self, name: str, read: Callable[[], float | Mapping[str, float]], max_age_s: float = 0.0
               ) -> Callable[[], None]:
        """Reads gauge `name` (a key of GAUGE_HELP) with `read` at scrape time (cached for `max_age_s` s); a
        mapping answer gives one series per key under the gauge's label (GAUGE_LABELS). Returns the detach."""
        if name not in GAUGE_HELP:
            raise ValueError(f"unknown gauge {name!r}")
        families()  # registers this collector
        entry = _Attached(name, Cached(read, max_age_s))
        with self._lock:
            self._attached.append(entry)

        def detach() -> None:
            with self._lock:
                self._attached = [a for a in self._attached if a.token is not entry.token]

        return detach

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            newest = {a.name: a for a in self._attached}
        for name, entry in sorted(newest.items()):
            value = entry.reading.value()
            if value is None:
                continue
            label = GAUGE_LABELS.get(name)
            if label is None:
                if isinstance(value, Mapping):
                    continue
                yield GaugeMetricFamily(name, GAUGE_HELP[name], value=float(value))
                continue
            family = GaugeMetricFamily(name, GAUGE_HELP[name], labels=[label])
            for key, number in sorted(value.items() if isinstance(value, Mapping) else ()):
                family.add_metric([key], float(number))
            yield family

    def describe(self) -> Iterator[Metric]:
        """Nothing: the registry then does not call collect() at registration (no store is read then)."""
        return iter(())


GAUGES = Gauges()


# ---- the endpoint -------------------------------------------------------------------------------------------

class MetricsPortInUse(OSError):
    """The metrics endpoint cannot bind its port; the message says which and how to choose another."""


@dataclass
class MetricsServer:
    host: str
    port: int
    _stop: Callable[[], None]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self._stop()


def start_metrics_server(host: str, port: int) -> MetricsServer:
    """Serves the process's registry at http://host:port/metrics on a thread of its own (port 0: a free
    port). MetricsPortInUse when the port is taken."""
    families()
    try:
        httpd, thread = serve_metrics_http(host.strip("[]"), port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise MetricsPortInUse(f"metrics: port {port} on {host} is in use by another program: stop it, or choose "
                               "another with --metrics-port or INFLUENCERS_METRICS_PORT (0 turns metrics off)"
                               ) from None

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5.0)

    server = MetricsServer(host, int(httpd.server_address[1]), stop)
    log.info("metrics on %s", server.url)
    return server
