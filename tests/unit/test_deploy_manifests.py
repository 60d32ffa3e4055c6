"""deploy/k8s is checked against the Kubernetes schemas (kubernetes-validate, offline, strict: an unknown
field fails) and for what makes a pod start: a container with a read-only root filesystem has a volume where
the data dir is."""

import inspect
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.identity.process import IdentityProcess
from services.ingest.jobs import JobQueue
from services.ingest.server import IngestProcess

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"


def _documents() -> list[tuple[str, dict]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [(name, doc) for name in kustomization["resources"]
            for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


@pytest.mark.parametrize(("name", "doc"), _documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_meets_the_kubernetes_schema_strictly(name: str, doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_read_only_container_has_a_volume_at_the_data_dir() -> None:
    config = next(doc for _, doc in _documents() if doc["kind"] == "ConfigMap")
    data_dir = config["data"]["INFLUENCERS_DATA_DIR"]
    for name, doc in _documents():
        if doc["kind"] not in ("Deployment", "StatefulSet") or not name.startswith(("ingest", "identity",
                                                                                   "analytics")):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if container.get("securityContext", {}).get("readOnlyRootFilesystem"):
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                assert data_dir in mounts, f"{name}: {container['name']} cannot write {data_dir}"


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity)


def test_a_services_scratch_volumes_fit_within_its_ephemeral_storage_limit() -> None:
    # Otherwise the kubelet evicts the pod before a volume is full, and the service's free-space guard, which
    # sees the volume, never warns. Identity spools long videos' frames to its data dir: it needs a limit.
    for name, doc in _documents():
        if doc["kind"] != "Deployment" or not name.startswith(("ingest", "identity", "analytics")):
            continue
        pod = doc["spec"]["template"]["spec"]
        sizes = [_bytes(v["emptyDir"]["sizeLimit"]) for v in pod.get("volumes", []) if "emptyDir" in v]
        (container,) = pod["containers"]
        limit = container["resources"].get("limits", {}).get("ephemeral-storage")
        if name.startswith(("ingest", "identity")):
            assert limit, f"{name}: no ephemeral-storage limit"
        if limit:
            assert sum(sizes) <= _bytes(limit), f"{name}: volumes {sum(sizes)} B over the limit {limit}"


def test_ingress_is_denied_by_default_and_opened_for_each_workload_by_name() -> None:
    policies = [doc for _, doc in _documents() if doc["kind"] == "NetworkPolicy"]
    assert any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies)
    opened = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in policies
              if p["spec"]["podSelector"]}
    workloads = {doc["metadata"]["labels"]["app.kubernetes.io/name"] for _, doc in _documents()
                 if doc["kind"] in ("Deployment", "StatefulSet")}
    assert workloads <= opened


def _images() -> list[tuple[str, str]]:
    found = [(name, c["image"]) for name, doc in _documents() if doc["kind"] in ("Deployment", "StatefulSet")
             for c in doc["spec"]["template"]["spec"].get("initContainers", []) + doc["spec"]["template"]["spec"]
             ["containers"]]
    compose = yaml.safe_load((K8S.parents[1] / "docker-compose.yml").read_text())
    return found + [("docker-compose.yml", s["image"]) for s in compose["services"].values() if "image" in s]


def test_every_image_names_its_registry_and_a_tag() -> None:
    # A bare "influencers/ingest" resolves to docker.io/influencers/ingest: a namespace that is not ours.
    for where, image in _images():
        registry, _, rest = image.partition("/")
        assert "." in registry or ":" in registry or registry == "localhost", f"{where}: {image} has no registry"
        assert ":" in rest.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{where}: {image} has no tag"


def test_kustomize_rewrites_exactly_the_images_the_manifests_use() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    ours = {image.rsplit(":", 1)[0] for _, image in _images() if "/influencers/" in image}
    assert {entry["name"] for entry in kustomization["images"]} == ours


def _default(function, name: str) -> float:
    return inspect.signature(function).parameters[name].default


def test_the_orchestrators_wait_longer_than_a_service_takes_to_stop() -> None:
    # Ingest lets its rows in flight finish, then its server drain; identity drains its AnalyzeVideo calls.
    # Killed before that, a row is done again (after its lease) and a video's analysis is thrown away.
    stops = {"ingest": _default(JobQueue.stop, "timeout_s") + _default(IngestProcess.stop, "grace_s"),
             "identity": _default(IdentityProcess.stop, "grace_s")}
    compose = yaml.safe_load((K8S.parents[1] / "docker-compose.yml").read_text())["services"]
    for name, seconds in stops.items():
        pod = next(doc for n, doc in _documents() if n == f"{name}.yaml" and doc["kind"] == "Deployment")
        assert pod["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > seconds, name
        assert int(compose[name].get("stop_grace_period", "10s").removesuffix("s")) > seconds, name


SERVICE_PODS = ("ingest", "identity", "analytics")


def _seconds(text: str) -> int:
    return int(text.removesuffix("s"))


@pytest.mark.parametrize("name", ("ingest", "identity", "analytics"))
def test_compose_and_the_image_give_a_start_with_its_migrations_as_long_as_the_k8s_startup_probe(name: str) -> None:
    # Before, compose counted failures after 20-30 s: a service still migrating its store (no server yet) was
    # "unhealthy" a minute later, and `docker compose up` failed the services that depend on it.
    probe = service_container(name)["startupProbe"]
    allowed_by_k8s = probe["periodSeconds"] * probe["failureThreshold"]
    check = yaml.safe_load((K8S.parents[1] / "docker-compose.yml").read_text())["services"][name]["healthcheck"]
    assert _seconds(check["start_period"]) >= allowed_by_k8s >= 300
    dockerfile = (K8S.parents[1] / "deploy" / "docker" / "Dockerfile").read_text()
    stage = dockerfile[dockerfile.index(f"FROM runtime AS {name}\n"):]
    image_check = re.search(r"HEALTHCHECK .*--start-period=(\d+s)", stage)
    assert image_check and _seconds(image_check.group(1)) >= allowed_by_k8s, "the image's own check (Swarm acts on it)"
PROBES = {"startupProbe": "--live", "livenessProbe": "--live", "readinessProbe": "--ready"}


def service_container(name: str) -> dict:
    (deployment,) = [doc for doc in yaml.safe_load_all((K8S / f"{name}.yaml").read_text())
                     if doc and doc["kind"] == "Deployment"]
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return container


@pytest.mark.parametrize("name", SERVICE_PODS)
def test_every_service_probe_runs_the_images_health_check_which_speaks_tls_when_it_is_on(name: str) -> None:
    # Before, Kubernetes' own `grpc:` probes, which speak plaintext only: with INFLUENCERS_TLS_CERT set (the
    # servers then listen on TLS only) every probe failed and the pods never became ready.
    container = service_container(name)
    env = {e["name"]: e.get("value") for e in container["env"]}
    grpc_port = {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"]
    assert env[f"INFLUENCERS_{name.upper()}_PORT"] == str(grpc_port), "the health check finds the port here"
    for probe, mode in PROBES.items():
        assert "grpc" not in container[probe], (name, probe)
        assert container[probe]["exec"]["command"] == ["python", "/opt/healthcheck.py", mode, name], (name, probe)
        assert container[probe]["timeoutSeconds"] >= 5, "a python start and the check's own 3 s deadline"
    dockerfile = (K8S.parent / "docker" / "Dockerfile").read_text()
    assert "deploy/healthcheck.py /opt/healthcheck.py" in dockerfile


def test_the_secret_that_deploy_readme_creates_holds_every_key_the_manifests_read_from_it() -> None:
    # Optional keys too: without INFLUENCERS_AUDIT_KEY (missing from the command before) each identity pod made
    # its own audit key in its emptyDir, lost when the pod went, so an erasure's audit row could not be checked.
    readme = (K8S.parent / "README.md").read_text()
    command = readme[readme.index("create secret generic influencers-secrets"):]
    created = set(re.findall(r"--from-literal=(\w+)=", command[:command.index("```")]))
    read = {ref["key"] for _, doc in _documents() for ref in _secret_refs(doc)
            if ref.get("name") == "influencers-secrets"}
    assert read and read <= created, f"read but not created: {sorted(read - created)}"


def _secret_refs(node: object) -> list[dict]:
    if isinstance(node, dict):
        found = [node["secretKeyRef"]] if "secretKeyRef" in node else []
        return found + [ref for value in node.values() for ref in _secret_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _secret_refs(value)]
    return []
