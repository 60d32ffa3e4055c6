"""deploy/prometheus and deploy/grafana against the code: the dashboard parses and every metric its queries
and the alert rules read is one services/common/metrics.py defines (or Prometheus' `up`, node_exporter's
filesystem gauges for the disk alerts); promtool accepts the configurations and the rules when installed, and
its rule tests (alerts_test.yml) show each alert firing on series labelled as the code labels them."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.common.metrics import GAUGE_HELP, GAUGE_LABELS, families

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "influencers.json"
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "le"}
NODE_EXPORTER = {"node_filesystem_avail_bytes", "node_filesystem_size_bytes"}
# The labels a scrape gives every series of a target (prometheus.yml adds `deployment`; compose.yml's `service` is
# the target's on `up` only: influencers_ready's own `service` is honoured over it).
TARGET_LABELS = {"job", "instance", "deployment"}


def defined_names() -> set[str]:
    """Every series name the code exposes: counters' _total, histograms' _bucket/_sum/_count, the gauges."""
    names = set(GAUGE_HELP)
    for metric in vars(families()).values():
        kind, name = metric._type, metric._name
        if kind == "counter":
            names.add(f"{name}_total")
        elif kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


def code_labels() -> dict[str, set[str]]:
    """Series name -> the label names the code gives it (a histogram's buckets also have `le`)."""
    labels = {name: {label} if (label := GAUGE_LABELS.get(name)) else set() for name in GAUGE_HELP}
    for metric in vars(families()).values():
        own = set(metric._labelnames)
        if metric._type == "counter":
            labels[f"{metric._name}_total"] = own
        elif metric._type == "histogram":
            labels |= {f"{metric._name}_bucket": own | {"le"}, f"{metric._name}_sum": own,
                       f"{metric._name}_count": own}
        else:
            labels[metric._name] = own
    return labels


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once strings, label matchers, ranges,
    grouping clauses and function calls are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        follows = text[match.end():].lstrip()
        if follows.startswith("(") or match.group() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for r in g["rules"]]


def test_the_issue_s_families_are_defined_with_their_exact_names():
    required = {"grpc_server_started_total", "grpc_server_handled_total", "grpc_server_handling_seconds_bucket",
                "grpc_client_started_total", "grpc_client_handled_total", "grpc_client_handling_seconds_bucket",
                "influencers_videos_total", "influencers_stage_seconds_bucket", "influencers_faces_stored",
                "influencers_influencers", "influencers_job_rows", "influencers_feed_position",
                "influencers_feed_lag", "influencers_review_items", "http_requests_total",
                "http_request_duration_seconds_bucket"}
    assert required <= defined_names()


def test_the_name_reader_finds_metrics_and_skips_functions_labels_and_keywords():
    expr = ('histogram_quantile(0.95, sum by (le, stage) (rate(influencers_stage_seconds_bucket{stage="x"}[5m])))'
            ' / on() max(influencers_feed_lag) and up == 0')
    assert metric_names(expr) == {"influencers_stage_seconds_bucket", "influencers_feed_lag", "up"}


def test_the_dashboard_parses_and_reads_only_metrics_the_code_defines():
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    used = set().union(*(metric_names(e) for e in exprs))
    assert used <= defined_names(), used - defined_names()
    titles = " ".join(p["title"].lower() for p in json.loads(DASHBOARD.read_text())["panels"])
    for topic in ("videos finished", "stage latency", "errors by method", "feed lag", "queue depth"):
        assert topic in titles


def test_every_alert_reads_only_metrics_the_code_or_node_exporter_defines():
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    assert {"InfluencersJobStuck", "InfluencersFeedLagging", "InfluencersRpcErrors", "InfluencersStoreNotReady",
            "InfluencersDiskFilling"} <= names
    known = defined_names() | NODE_EXPORTER | {"up"}
    for rule in rules:
        assert metric_names(rule["expr"]) <= known, (rule["alert"], metric_names(rule["expr"]) - known)


def test_only_the_down_alert_names_a_scrape_job():
    # In Kubernetes the job is kubernetes-pods or a PodMonitor's: a rule matching job="influencers" on our own
    # metrics would never fire there. `up` is every target's, so InfluencersDown alone needs the job.
    for rule in alert_rules():
        if rule["alert"] != "InfluencersDown":
            assert "job=" not in rule["expr"].replace(" ", ""), rule["alert"]
    assert "job=" not in " ".join(dashboard_exprs()).replace(" ", "")


def test_every_alert_is_explained_in_the_operations_guide():
    guide = (ROOT / "docs" / "operations.md").read_text()
    for rule in alert_rules():
        assert f"### {rule['alert']}" in guide, rule["alert"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make system-deps-dev)")
def test_promtool_accepts_the_configurations_and_the_rules():
    for args in (["check", "config", "prometheus.yml", "compose.yml"], ["check", "rules", "alerts.yml"]):
        result = subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def rule_tests() -> list[dict]:
    return yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]


def test_every_alert_has_a_rule_test_in_which_it_fires():
    fired = {check["alertname"] for test in rule_tests() for check in test["alert_rule_test"] if check["exp_alerts"]}
    assert {rule["alert"] for rule in alert_rules()} <= fired, {rule["alert"] for rule in alert_rules()} - fired


def test_the_rule_tests_series_carry_exactly_the_labels_the_code_gives_them():
    # A rule test on a label the code does not set (influencers_ready's `service`, say) would pass while the
    # alert never fires on real series.
    labels = code_labels()
    for test in rule_tests():
        for series in test["input_series"]:
            name, _, rest = series["series"].partition("{")
            given = {pair.split("=")[0] for pair in rest.rstrip("}").split(",")} - TARGET_LABELS
            if name == "up":
                given -= {"service"}
            if name in labels:
                assert given == labels[name], (series["series"], labels[name])
            else:
                assert name in NODE_EXPORTER | {"up"}, name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make system-deps-dev)")
def test_promtool_s_rule_tests_pass():
    result = subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
