"""services/common/metrics.py: readings cached off the scrape, gauges attached and detached by services,
bounded label values, and the metrics port each command defaults to."""

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from influencers.cli import build_parser
from influencers.cli.config import settings_from_args
from services.common.metrics import (
    GAUGE_HELP,
    GAUGE_LABELS,
    Cached,
    Gauges,
    count_video,
    families,
    observe_stages,
    register_service,
)
from services.common.settings import DEFAULT_METRICS_PORT as DEFAULT_PORT


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_reading_is_taken_at_once_then_answered_from_the_cache_while_young():
    calls = []
    clock = Clock()
    cached = Cached(lambda: calls.append(1) or len(calls), max_age_s=30, clock=clock)
    assert cached.value() == 1
    clock.now = 29
    assert cached.value() == 1 and len(calls) == 1


def test_an_old_reading_is_refreshed_in_the_background_and_the_scrape_gets_the_old_value_meanwhile():
    release, read = threading.Event(), threading.Event()
    values = iter([1, 2])

    def slow() -> int:
        value = next(values)
        if value == 2:
            read.set()
            release.wait(5)
        return value

    clock = Clock()
    cached = Cached(slow, max_age_s=30, clock=clock)
    assert cached.value() == 1
    clock.now = 31
    assert cached.value() == 1, "the scrape does not wait for the refresh"
    assert read.wait(5)
    release.set()
    for _ in range(100):
        if cached.value() == 2:
            break
        threading.Event().wait(0.01)
    assert cached.value() == 2


def test_a_failed_reading_leaves_the_gauge_out_and_keeps_the_collector_working():
    gauges = Gauges()

    def broken() -> float:
        raise ConnectionError("store down")

    gauges.attach("influencers_faces_stored", broken)
    gauges.attach("influencers_influencers", lambda: 3)
    assert [(m.name, m.samples[0].value) for m in gauges.collect()] == [("influencers_influencers", 3.0)]


def test_the_newest_attached_reading_answers_and_a_detached_one_no_longer_does():
    gauges = Gauges()
    detach_first = gauges.attach("influencers_feed_lag", lambda: 1)
    detach_second = gauges.attach("influencers_feed_lag", lambda: 2)
    assert [m.samples[0].value for m in gauges.collect()] == [2.0]
    detach_second()
    assert [m.samples[0].value for m in gauges.collect()] == [1.0]
    detach_first()
    assert list(gauges.collect()) == []


def test_a_mapping_reading_gives_one_series_per_state():
    gauges = Gauges()
    gauges.attach("influencers_job_rows", lambda: {"pending": 4, "running": 2})
    [family] = gauges.collect()
    assert {(s.labels["state"], s.value) for s in family.samples} == {("pending", 4.0), ("running", 2.0)}


def test_an_unknown_gauge_name_is_refused():
    with pytest.raises(ValueError, match="influencers_nope"):
        Gauges().attach("influencers_nope", lambda: 1)


def test_families_register_once_however_often_they_are_asked_for():
    assert families() is families()


def test_stage_and_status_words_outside_the_known_ones_make_no_series():
    register_service("ingest")
    register_service("identity")
    before = REGISTRY.get_sample_value("influencers_stage_seconds_count", {"stage": "fetch"}) or 0
    observe_stages({"fetch": 0.5, "identity": 3.0, "identity.detect": 1.0, "https://x/y": 1.0})
    count_video("processing")
    count_video("https://example.com/v.mp4")
    assert REGISTRY.get_sample_value("influencers_stage_seconds_count", {"stage": "fetch"}) == before + 1
    stages = {s.labels["stage"] for m in REGISTRY.collect() if m.name == "influencers_stage_seconds"
              for s in m.samples}
    assert stages == {"fetch", "decode", "detect", "encode", "assign", "record"}
    statuses = {s.labels["status"] for m in REGISTRY.collect() if m.name == "influencers_videos" for s in m.samples}
    assert statuses == {"done", "failed", "duplicate"}


@pytest.mark.parametrize(("argv", "environ", "port"), [
    (["run", "m.csv"], {}, DEFAULT_PORT),
    (["serve"], {}, DEFAULT_PORT),
    (["service", "identity"], {}, 0),
    (["service", "identity"], {"INFLUENCERS_METRICS_PORT": "9470"}, 9470),
    (["serve"], {"INFLUENCERS_METRICS_PORT": "0"}, 0),
    (["serve", "--metrics-port", "9471"], {"INFLUENCERS_METRICS_PORT": "9470"}, 9471),
    (["jobs"], {}, 0),
])
def test_run_and_serve_default_to_the_metrics_port_and_service_to_none(monkeypatch, argv, environ, port):
    monkeypatch.delenv("INFLUENCERS_METRICS_PORT", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert settings_from_args(build_parser().parse_args(argv)).metrics_port == port


def exposed(*services: str) -> set[str]:
    """The family names an endpoint of a process hosting `services` lists (a counter's without `_total`)."""
    registry = CollectorRegistry()
    for service in services:
        register_service(service, registry)
    text = generate_latest(registry).decode()
    return {line.split()[2].removesuffix("_total") for line in text.splitlines() if line.startswith("# TYPE ")}


def test_each_service_lists_its_own_families_and_not_those_of_the_others():
    every = {"influencers_build_info", "influencers_tls_certificate_expiration_timestamp_seconds"}
    assert {n for n in exposed("ingest") if n.startswith("influencers_")} == every | {
        "influencers_videos", "influencers_stage_seconds", "influencers_stage_cpu_seconds", "influencers_ready",
        "influencers_child_restarts"}
    assert {n for n in exposed("identity") if n.startswith("influencers_")} == every | {
        "influencers_stage_seconds", "influencers_stage_cpu_seconds", "influencers_ready",
        "influencers_child_restarts"}
    assert {n for n in exposed("analytics") if n.startswith("influencers_")} == every | {
        "influencers_ready", "influencers_feed_changes_applied", "influencers_feed_resyncs"}
    assert "http_requests" in exposed("analytics")
    assert not {"http_requests", "http_request_duration_seconds"} & (exposed("ingest") | exposed("identity"))
    assert "grpc_client_started" not in exposed("identity")


def test_a_process_hosting_all_three_services_lists_every_family_once():
    names = exposed("analytics", "identity", "ingest")
    every = {m._name for m in vars(families()).values()}
    assert every <= names
    registry = CollectorRegistry()
    for service in ("ingest", "identity", "ingest", "analytics"):
        register_service(service, registry)  # a second start of a service in the process is no error


def test_a_service_shows_its_own_stages_and_workers_at_zero():
    register_service("ingest", CollectorRegistry())
    register_service("identity", CollectorRegistry())
    stages = {s.labels["stage"] for m in families().stage_seconds.collect() for s in m.samples}
    assert {"fetch", "decode", "record", "detect", "encode", "assign"} <= stages
    children = {s.labels["child"] for m in families().child_restarts.collect() for s in m.samples}
    assert children == {"decoder", "face_worker"}


def _every_family_with_a_sample() -> bytes:
    """What a process of all three services exposes, every gauge attached (a mapping one with a state)."""
    registry = CollectorRegistry()
    for service in ("ingest", "identity", "analytics"):
        register_service(service, registry)
    gauges = Gauges()
    for name in GAUGE_HELP:
        gauges.attach(name, (lambda: {"pending": 1}) if name in GAUGE_LABELS else (lambda: 1))
    registry.register(gauges)
    return generate_latest(registry)


def test_every_family_has_help_and_no_label_that_could_hold_an_id_or_a_url():
    text = _every_family_with_a_sample().decode()
    helps = {line.split()[2]: line.split(maxsplit=3)[3:] for line in text.splitlines() if line.startswith("# HELP ")}
    types = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert set(GAUGE_HELP) <= types and helps.keys() == types and all(helps.values())
    labels = {pair.split("=")[0] for line in text.splitlines() if "{" in line and not line.startswith("#")
              for pair in line[line.index("{") + 1:line.rindex("}")].split(",")}
    assert not {label for label in labels if any(word in label for word in ("id", "url", "name", "path", "error"))}


# The labels scrape configurations attach to a target: Prometheus' own (job, instance), Kubernetes service
# discovery's as the Prometheus Operator and the usual relabelling name them, compose.yml's `service`.
TARGET_LABELS = {"job", "instance", "service", "namespace", "pod", "container", "endpoint", "node"}


def test_no_family_has_a_label_that_scraping_attaches_to_the_target_but_service_which_our_scrapes_honour():
    # One of ours under such a name is renamed exported_<name> by Prometheus unless the scrape honours it, and every
    # rule reading it then reads the target's. influencers_ready's `service` (an interface since issue 19) is the
    # one: every influencers job of our scrape configs keeps it with honor_labels.
    families().ready.labels("ingest")  # a series of the readiness gauge, which has none until a server sets it
    text = _every_family_with_a_sample().decode()
    labels = {pair.split("=")[0] for line in text.splitlines() if "{" in line and not line.startswith("#")
              for pair in line[line.index("{") + 1:line.rindex("}")].split(",")}
    assert labels & TARGET_LABELS == {"service"}, labels & TARGET_LABELS
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
    for config in ("prometheus.yml", "compose.yml"):
        jobs = yaml.safe_load((deploy / config).read_text())["scrape_configs"]
        assert [job.get("honor_labels") for job in jobs if job["job_name"] == "influencers"] == [True], config


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make system-deps-dev)")
def test_promtool_finds_no_naming_or_help_problem_in_any_family():
    # Its linter: counters end in _total, units are base units and in the name, every family has HELP.
    result = subprocess.run(["promtool", "check", "metrics"], input=_every_family_with_a_sample(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result
