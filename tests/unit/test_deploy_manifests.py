"""deploy/k8s is checked against the Kubernetes schemas (kubernetes-validate, offline, strict: an unknown
field fails) and for what makes a pod start: a container with a read-only root filesystem has a volume where
the data dir is."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

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


def test_ingress_is_denied_by_default_and_opened_for_each_workload_by_name() -> None:
    policies = [doc for _, doc in _documents() if doc["kind"] == "NetworkPolicy"]
    assert any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies)
    opened = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in policies
              if p["spec"]["podSelector"]}
    workloads = {doc["metadata"]["labels"]["app.kubernetes.io/name"] for _, doc in _documents()
                 if doc["kind"] in ("Deployment", "StatefulSet")}
    assert workloads <= opened
