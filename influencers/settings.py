"""One typed settings object per process, built from the environment and flags in the entry point."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "INFLUENCERS_"


@dataclass(frozen=True)
class Settings:
    """Every address, port, threshold and path of the system.

    Each field `x` is read from the environment variable `INFLUENCERS_X` (upper case), except
    `qdrant_url` and `qdrant_api_key`, which also accept the conventional `QDRANT_URL` / `QDRANT_API_KEY`.
    """

    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    ingest_port: int = 50051
    identity_port: int = 50052
    analytics_port: int = 50053
    web_port: int = 8080
    # Addresses of the other services (host:port); empty means "on this host at the port above".
    identity_addr: str = ""
    analytics_addr: str = ""
    # Vector store: empty URL = Qdrant local mode under data_dir/qdrant.
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    qdrant_collection: str = "faces"
    # Server-side layout of a new collection: shards, replicas, int8 quantization (large stores).
    qdrant_shards: int = 1
    qdrant_replication: int = 1
    qdrant_quantize: bool = False
    # Shared secret required on gRPC calls and the page when bound beyond loopback.
    token: str = ""
    # Identity: Euclidean distance between 128-d encodings (dlib ResNet); see bench/threshold_sweep.py.
    match_threshold: float = 0.55
    match_margin: float = 0.04
    cluster_threshold: float = 0.62  # bench/threshold_sweep.py: best worse-of (photos, dev) F0.5
    within_video_threshold: float = 0.5
    # Ingest: frame sampling and worker counts.
    sample_interval_s: float = 1.0
    workers: int = 0  # 0 = one per CPU core
    max_video_bytes: int = 512 * 1024 * 1024
    max_video_seconds: float = 600.0
    fetch_timeout_s: float = 30.0
    allow_private_urls: bool = False
    allowed_root: str = ""
    rpc_timeout_s: float = 600.0
    # Name of this ingest instance (default: the host name); interrupted batches are tracked per name.
    worker_name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Builds settings from `environ` (default: os.environ), then applies non-None `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None and f.name in ("qdrant_url", "qdrant_api_key"):
                raw = env.get(f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def identity_target(self) -> str:
        return self.identity_addr or f"{self.host}:{self.identity_port}"

    @property
    def analytics_target(self) -> str:
        return self.analytics_addr or f"{self.host}:{self.analytics_port}"

    @property
    def ingest_target(self) -> str:
        return f"{self.host}:{self.ingest_port}"

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


def _parse(type_name: object, raw: str, name: str) -> object:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError as exc:
        raise ValueError(f"setting {ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
