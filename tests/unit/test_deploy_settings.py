"""What deploy/k8s, docker-compose.yml and the image give a service is what it reads: every INFLUENCERS_*
variable they set is a setting (a misspelt one would be ignored, silently, in a pod) and parses, and every port
they name (container ports, Services, the addresses one service dials, the metrics port Prometheus scrapes)
is the port the service binds."""

import re
from pathlib import Path

import pytest
import yaml

from services.common.settings import Settings, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("ingest", "identity", "analytics")


def _k8s(kind: str) -> dict[str, dict]:
    docs = [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _container(name: str) -> dict:
    (container,) = [c for c in _k8s("Deployment")[name]["spec"]["template"]["spec"]["containers"]
                    if c["name"] == name]
    return container


def _pod_environment(name: str) -> dict[str, str]:
    """What the container's environment holds: the ConfigMaps it loads, then its own values (a Secret's value
    stands in as a placeholder of the right form)."""
    container, maps = _container(name), _k8s("ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        env[item["name"]] = item["value"] if "value" in item else _placeholder(item["name"])
    return env


def _placeholder(name: str) -> str:
    return "postgresql://influencers:secret@postgres:5432/influencers" if name.endswith("DATABASE_URL") else "x" * 32


def _image_environment(target: str) -> dict[str, str]:
    """The ENV of the Dockerfile's `runtime` stage and of the service's own stage (`FROM runtime AS target`)."""
    text = (ROOT / "deploy" / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    stage = ""
    for line in text.splitlines():
        if m := re.match(r"FROM \S+ AS (\S+)", line):
            stage = m.group(1)
        elif line.startswith("ENV ") and stage in ("runtime", target):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _compose_environment(name: str) -> dict[str, str]:
    """The image's ENV, then the compose service's environment, `${VAR:?...}`/`${VAR:-...}` given a value."""
    env = _image_environment(name)
    for key, value in _compose()["services"][name]["environment"].items():
        env[key] = re.sub(r"\$\{(\w+)[:?\-][^}]*\}", lambda m: _placeholder(m.group(1)), str(value))
    return env


@pytest.mark.parametrize("name", SERVICES)
@pytest.mark.parametrize("where", ["k8s", "compose"])
def test_every_variable_a_deployment_sets_is_a_setting_and_parses(where: str, name: str) -> None:
    env = _pod_environment(name) | _image_environment(name) if where == "k8s" else _compose_environment(name)
    assert unknown_variables(env) == [], f"{where} {name}: variables no setting reads"
    settings = Settings.from_env(env)
    assert settings.metrics_port == 9464 and settings.host == "0.0.0.0"


def _port(container: dict, port_name: str) -> int:
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == port_name]
    return port


@pytest.mark.parametrize("name", SERVICES)
def test_each_pod_binds_the_ports_its_container_service_and_scrape_annotation_name(name: str) -> None:
    settings = Settings.from_env(_pod_environment(name) | _image_environment(name))
    container, deployment = _container(name), _k8s("Deployment")[name]
    bound = getattr(settings, f"{name}_port")
    assert _port(container, "grpc") == bound == int(_image_environment(name)[f"INFLUENCERS_{name.upper()}_PORT"])
    assert _port(container, "metrics") == settings.metrics_port
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == settings.metrics_port
    service_ports = {p["name"]: (p["port"], p.get("targetPort", p["port"]))
                     for p in _k8s("Service")[name]["spec"]["ports"]}
    assert service_ports["grpc"] == (bound, bound)
    if name == "analytics":
        assert _port(container, "http") == settings.web_port == service_ports["http"][1]


def test_the_addresses_a_pod_dials_are_the_services_ports_and_qdrants():
    settings = Settings.from_env(_pod_environment("ingest"))
    for name, target in (("identity", settings.identity_addr), ("analytics", settings.analytics_addr)):
        host, port = target.rsplit(":", 1)
        assert host == name and int(port) == getattr(Settings.from_env(_pod_environment(name)), f"{name}_port")
    qdrant = {p["name"]: p["port"] for p in _k8s("Service")["qdrant"]["spec"]["ports"]}
    assert Settings.from_env(_pod_environment("identity")).qdrant_url == f"http://qdrant:{qdrant['http']}"


def test_in_compose_the_addresses_exposed_metrics_and_published_ports_are_the_ones_bound():
    services = _compose()["services"]
    ingest = Settings.from_env(_compose_environment("ingest"))
    for name, target in (("identity", ingest.identity_addr), ("analytics", ingest.analytics_addr)):
        host, port = target.rsplit(":", 1)
        assert host == name and int(port) == getattr(Settings.from_env(_compose_environment(name)), f"{name}_port")
    for name in SERVICES:
        assert [str(Settings.from_env(_compose_environment(name)).metrics_port)] == services[name]["expose"]
    assert services["ingest"]["ports"][0].rsplit(":", 1)[1] == str(ingest.ingest_port)
    analytics = Settings.from_env(_compose_environment("analytics"))
    assert services["analytics"]["ports"][0].rsplit(":", 1)[1] == str(analytics.web_port)
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "compose.yml").read_text())["scrape_configs"]
    (job,) = [j for j in scrape if j["job_name"] == "influencers"]
    assert job["dns_sd_configs"][0]["port"] == analytics.metrics_port
    assert set(job["dns_sd_configs"][0]["names"]) == set(SERVICES)
