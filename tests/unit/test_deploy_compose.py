"""docker-compose.yml runs the fleet: PostgreSQL with a volume and a health check, every service of ours
reading the same INFLUENCERS_DATABASE_URL, two analytics and two ingest replicas on host port ranges."""

import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_compose_runs_postgres_and_replicas_that_share_it() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert "healthcheck" in services["postgres"] and "postgres-data" in spec["volumes"]
    for name in ("identity", "analytics", "ingest"):
        assert services[name]["environment"]["INFLUENCERS_DATABASE_URL"].startswith("postgresql://"), name
    for name in ("analytics", "ingest"):
        assert services[name]["deploy"]["replicas"] == 2
        assert all("-" in port.rsplit(":", 1)[0] for port in services[name]["ports"]), "a fixed port cannot serve 2"
        assert "postgres" in services[name]["depends_on"]


def test_the_readmes_compose_commands_set_every_variable_the_compose_file_requires() -> None:
    # `${X:?message}`: compose refuses to start without X, so the command deploy/README.md gives must set it.
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    guide = (COMPOSE.parent / "deploy" / "README.md").read_text()
    up = next(block for block in re.findall(r"```sh\n(.*?)```", guide, re.DOTALL) if "docker compose up" in block)
    header = "\n".join(line for line in COMPOSE.read_text().splitlines() if "docker compose up" in line)
    assert required and {"INFLUENCERS_TOKEN", "POSTGRES_PASSWORD"} <= required
    for text in (up, header):
        assert all(f"{name}=" in text for name in required), (sorted(required), text)


def test_identitys_audit_key_can_be_given_and_the_guide_says_its_volume_holds_it_otherwise() -> None:
    # Before: compose passed no INFLUENCERS_AUDIT_KEY and the guide said identity-data "holds nothing durable",
    # while it held the random audit key made once in DATA/identity/audit.key.
    identity = yaml.safe_load(COMPOSE.read_text())["services"]["identity"]
    assert identity["environment"]["INFLUENCERS_AUDIT_KEY"] == "${INFLUENCERS_AUDIT_KEY:-}"
    guide = " ".join((COMPOSE.parent / "deploy" / "README.md").read_text().split())
    assert "holds nothing durable" not in guide
    assert "`identity-data` unless `INFLUENCERS_AUDIT_KEY` is set" in guide
