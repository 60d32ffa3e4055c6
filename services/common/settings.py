"""One typed settings object per process, built from the environment and flags in the entry point."""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from services.common.host_names import DOTTED_QUAD, HOST_LABEL, NUMERIC_LABEL

ENV_PREFIX = "INFLUENCERS_"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting (environment variable or flag) that cannot be used; the message names the variable."""


_LOG_FORMATS = ("text", "json")  # services/common/logs.py FORMATS and LEVELS
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Who runs dlib's ResNet face encoder, and how (services/identity/faces.py): dlib; OpenCV; OpenCV on the chip and
# its mirror image, the mean of the two (services/identity/mirror_mean.py).
ENCODERS = ("dlib", "opencv", "opencv-mirror")
OPENCV_ENCODERS = frozenset({"opencv", "opencv-mirror"})  # dlib's network run by OpenCV: loaded as a worker starts
AUTO_ENCODER = "auto"  # the face store's own encoder, or opencv-mirror for a new store (identity/encoder_choice.py)
MAX_WAIT_S = 7 * 24 * 3600.0  # the longest time limit a setting may give: a week, in seconds
# The metrics port of `run` and `serve` (the OpenTelemetry Prometheus exporter's customary port); `service`'s is none.
# Here, not in metrics.py: the CLI's parser names it, and `influencers --help` imports no prometheus_client.
DEFAULT_METRICS_PORT = 9464

# Allowed closed ranges of the numeric settings (None: unbounded on that side). Ports may be 0: "any free".
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "ingest_port": (0, 65535),
    "identity_port": (0, 65535),
    "analytics_port": (0, 65535),
    "web_port": (0, 65535),
    "metrics_port": (0, 65535),
    "qdrant_shards": (1, None),
    "qdrant_replication": (1, None),
    "match_threshold": (1e-9, 4.0),  # Euclidean distance of unit-scale 128-d encodings: at most ~2
    "match_margin": (0.0, 4.0),
    "cluster_threshold": (1e-9, 4.0),
    "review_band": (0.0, 4.0),
    "review_floor": (0.0, 1.0),
    "within_video_threshold": (1e-9, 4.0),
    "sample_interval_s": (0.01, 3600.0),
    "workers": (0, 1024),
    "max_video_bytes": (1, None),
    "max_manifest_bytes": (1, None),
    # Time limits stop at a week: gRPC turns a deadline beyond ~300 years into an instant DEADLINE_EXCEEDED,
    # and a thread's or socket's timeout beyond ~292 years raises OverflowError.
    "max_video_seconds": (0.001, MAX_WAIT_S),
    "fetch_timeout_s": (0.001, MAX_WAIT_S),
    "rpc_timeout_s": (0.001, MAX_WAIT_S),
    "stream_idle_s": (0.1, MAX_WAIT_S),
    # Under services/common/rpc.py MAX_MESSAGE_BYTES (32 MiB) less room for the rest of the message, so that an
    # oversized frame meets our check (naming the frame) before the transport's bare RESOURCE_EXHAUSTED.
    "max_frame_bytes": (1, 32 * 1024 * 1024 - 64 * 1024),
    "max_stream_bytes": (1, None),
    "feed_retention": (100, None),
    "feed_wait_s": (0.0, MAX_WAIT_S),
    "job_feed_wait_s": (0.0, MAX_WAIT_S),
    "job_lease_s": (0.1, 3600.0),
    "session_lifetime_s": (1.0, MAX_WAIT_S),
    "max_active_jobs": (1, None),
    "max_job_rows": (1, None),
    "min_free_bytes": (0, None),  # and MIN_FREE_BYTES_FLOOR, checked with its own message
    "spool_memory_bytes": (0, None),
}


LOCATOR_MODEL = Path(sys.prefix) / "share" / "influencers" / "face_detection_short_range.tflite"


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
    # Prometheus metrics at http://host:metrics_port/metrics; 0 = none. `run` and `serve` default to
    # DEFAULT_METRICS_PORT, `service` to none (influencers/cli/config.py says why); services/common/metrics.py
    # serves them.
    metrics_port: int = 0
    # Addresses of the other services (host:port); empty means "on this host at the port above".
    identity_addr: str = ""
    analytics_addr: str = ""
    # Vector store: empty URL = Qdrant Edge in-process under data_dir/qdrant/edge.
    # The fields that hold a secret (a key, a token, a URL's password) are left out of the settings' repr: an
    # object's repr is what a log line or an error message shows of it.
    qdrant_url: str = dataclasses.field(default="", repr=False)
    qdrant_api_key: str = dataclasses.field(default="", repr=False)
    qdrant_collection: str = "faces"
    # Server-side layout of a new collection: shards, replicas, int8 quantization (large stores).
    qdrant_shards: int = 1
    qdrant_replication: int = 1
    qdrant_quantize: bool = False
    # Shared secret required on gRPC calls and the page when bound beyond loopback.
    token: str = dataclasses.field(default="", repr=False)
    # Identity: Euclidean distance between 128-d encodings (dlib ResNet); see bench/threshold_sweep.py.
    match_threshold: float = 0.55
    match_margin: float = 0.04
    cluster_threshold: float = 0.62  # bench/threshold_sweep.py: best worse-of (photos, dev) F0.5
    # The "same person?" queue's candidates: influencer pairs whose people come under cluster_threshold +
    # review_band of each other's mean face (Euclidean), and people of one video never seen in one frame.
    # review_floor: items whose probability of being one person is under it wait behind "show less likely".
    review_band: float = 0.3
    review_floor: float = 0.5
    within_video_threshold: float = 0.5
    # Ingest: frame sampling and worker counts.
    sample_interval_s: float = 1.0
    workers: int = 0  # 0 = one per CPU core
    max_video_bytes: int = 512 * 1024 * 1024
    max_manifest_bytes: int = 16 * 1024 * 1024  # services/ingest/manifest.py MAX_MANIFEST_BYTES says why
    max_video_seconds: float = 600.0
    fetch_timeout_s: float = 120.0  # the whole download, every redirect, headers and body
    allow_private_urls: bool = False
    allowed_root: str = ""
    rpc_timeout_s: float = 600.0
    # Identity's AnalyzeVideo: bytes of one frame's image (ingest's largest, 4096x4096 px of noise at JPEG
    # quality 90, is ~14 MiB), and of all the frames of one stream. A video's frames wait for analysis in
    # memory up to spool_memory_bytes, past that in a file of the process's scratch folder (ingest and
    # identity; services/common/spool.py).
    max_frame_bytes: int = 16 * 1024 * 1024
    max_stream_bytes: int = 2 * 1024 * 1024 * 1024
    spool_memory_bytes: int = 32 * 1024 * 1024
    # Identity's AnalyzeVideo: seconds a stream may send nothing (before its first frame, or between two) before
    # it is ended (DEADLINE_EXCEEDED) and its slot freed. Ingest sends a video's frames from its spool, at once.
    stream_idle_s: float = 60.0
    # Name of this ingest instance (default: the host name); interrupted batches are tracked per name.
    worker_name: str = ""
    # Analytics and the ingest job queue: empty = SQLite files in data_dir (one machine); a
    # postgresql://USER@HOST:PORT/DB URL = that PostgreSQL database, shared by every replica.
    database_url: str = dataclasses.field(default="", repr=False)
    # TLS for gRPC: PEM files of this process's certificate and key (both or neither), and of the authority
    # that signed the servers' certificates (clients check servers against it; empty: the system's).
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    # How long a signed-in page session lasts, in seconds (then the analyst signs in again), and the secret its
    # cookies are signed with besides the token: a new one ends every session (empty: the token alone).
    session_lifetime_s: float = 12 * 3600.0
    # Identity's key of the audit trail's HMAC of an erased id (docs/audit.md); empty: a random key created
    # once in DATA/identity/audit.key (0600). Replicas sharing one Qdrant server set the same key.
    audit_key: str = dataclasses.field(default="", repr=False)
    session_secret: str = dataclasses.field(default="", repr=False)
    # Names the report page is served under besides `host` and the loopback names (comma separated, e.g.
    # report.example.com): any other Host header is refused (DNS rebinding).
    allowed_hosts: str = ""
    # Identity's change feed: how many of the newest changes are kept (a follower further behind resyncs from a
    # snapshot). Read-your-writes: how long the CLI and the page wait for analytics to apply a correction
    # before saying "still catching up", and how long an ingest job waits for it at its end (seconds).
    feed_retention: int = 10_000
    feed_wait_s: float = 10.0
    job_feed_wait_s: float = 600.0
    # Ingest job queue: seconds a replica's lease on a row lasts unless renewed (a SIGKILLed replica's rows are
    # taken over after this), jobs queued or running at once, and rows in one job.
    job_lease_s: float = 10.0  # renewed every third of it; bench/fleet.py: a dead replica's rows wait this long
    max_active_jobs: int = 100
    max_job_rows: int = 100_000
    # A video whose sampled frames look like an analysed video's is a repost: its people are copied from it
    # instead of detected again (services/ingest/signature.py). false: every video is analysed.
    early_reposts: bool = True
    # Where faces are looked for. "off": HOG searches whole frames. "on" (LOCATOR_MODEL, which make setup
    # extracts from the mediapipe wheel into the venv) or another model file: BlazeFace
    # (services/identity/blazeface.py) says where faces are and HOG searches only there: ~20% less CPU, but on
    # people other than dev's it moves borderline identities a little more than a neutral change does
    # (docs/identity.md, step 2), so it is off unless asked for.
    face_locator: str = "off"
    # Who runs the face encoder, dlib's ResNet (face_recognition_models' weights): "dlib" itself, or "opencv",
    # the same network with the same weights in OpenCV's DNN engine (services/identity/opencv_encoder.py):
    # encodings within 1e-6 of dlib's, at ~40% less CPU a face (docs/performance.md); or "opencv-mirror", the
    # mean of OpenCV's encodings of each chip and its mirror image (services/identity/mirror_mean.py): twice the
    # encoder's CPU, encodings that move ~25% less when the detector's box moves (docs/identity.md). "auto": the
    # one the face store records (dlib for a store of an older release), NEW_STORE_ENCODER for a new store; an
    # explicit one that contradicts the store's is refused at start (encoder_choice.py).
    encoder: str = AUTO_ENCODER
    # Logs (services/common/logs.py): "text" or "json" (one JSON object a line), and the least level shown.
    log_format: str = "text"
    log_level: str = "INFO"
    # Erasure: the key of the keyed hash (HMAC-SHA256) that stands for an erased id in tombstones and in the
    # feed (services/common/erasure.py); give every service of a deployment the same one. Free space: writes
    # of the face store are refused, with one message, while the data dir's filesystem has less than this
    # many bytes free (Edge maps its files: a write into a full disk is a SIGBUS, not an error).
    erasure_secret: str = ""
    min_free_bytes: int = 256 * 1024 * 1024  # at least MIN_FREE_BYTES_FLOOR

    def face_locator_model(self) -> Path | None:
        """The locator's model file `face_locator` names ("on": LOCATOR_MODEL), or None ("off", empty)."""
        if self.face_locator.lower() in ("", "off"):
            return None
        return LOCATOR_MODEL if self.face_locator.lower() == "on" else Path(self.face_locator)

    def __post_init__(self) -> None:
        """Checks types and ranges, so that a bad value fails at start with a message naming its variable
        instead of deep inside a service."""
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://",
                                                                     "postgresql+psycopg://", "sqlite://")):
            raise SettingsError(f"{env_name('database_url')} must start with postgresql:// (or sqlite://)")
        if self.database_url.startswith("sqlite://") and _in_memory(self.database_url):
            raise SettingsError(f"{env_name('database_url')}={self.database_url!r} is a database in memory: each "
                                "store would have one of its own, lost at every stop; give a file "
                                "(sqlite:////path/influencers.sqlite3), postgresql://..., or leave it empty")
        if self.database_url and not _database_port_readable(self.database_url):
            raise SettingsError(f"{env_name('database_url')} has a port that is not a number from 1 to 65535")
        if self.qdrant_url and not _is_http_url(self.qdrant_url):
            raise SettingsError("QDRANT_URL must be a Qdrant server's http:// or https:// URL (such as "
                                "http://qdrant:6333), or empty for Qdrant Edge in the data dir")
        if problem := host_problem(self.host):
            raise SettingsError(f"{env_name('host')}={host_shown(self.host)!r} {problem}")
        for name in ("identity_addr", "analytics_addr"):
            address = getattr(self, name)
            if address and not _is_address(address):
                host = address.rpartition(":")[0]
                why = f": its host {host_shown(host)!r} {problem}" if host and (problem := host_problem(host)) else ""
                raise SettingsError(f"{env_name(name)}={address!r}{why}: give HOST:PORT (a port from 1 to 65535), "
                                    "or a gRPC target such as dns:///HOST:PORT")
        if not _is_collection_name(self.qdrant_collection):
            raise SettingsError(f"{env_name('qdrant_collection')}={self.qdrant_collection[:40]!r}"
                                f"{'...' if len(self.qdrant_collection) > 40 else ''}: a Qdrant collection name of 1 "
                                f"to {_MAX_COLLECTION_CHARS} characters, no blank, control character or any of "
                                f"{_COLLECTION_FORBIDDEN} (such as faces or faces-2)")
        if self.encoder not in (AUTO_ENCODER, *ENCODERS):
            raise SettingsError(f"{env_name('encoder')}={self.encoder!r}: one of {AUTO_ENCODER}, {', '.join(ENCODERS)}")
        if self.log_format.lower() not in _LOG_FORMATS:
            raise SettingsError(f"{env_name('log_format')}={self.log_format!r}: one of {', '.join(_LOG_FORMATS)}")
        if self.log_level.upper() not in _LOG_LEVELS:
            raise SettingsError(f"{env_name('log_level')}={self.log_level!r}: one of {', '.join(_LOG_LEVELS)}")
        if self.worker_name and not (len(self.worker_name) <= MAX_WORKER_NAME_CHARS and self.worker_name.isprintable()):
            # Identity refuses such a name at OpenBatch, which ingest retried for good: a job that never moved. The
            # queue's lease columns hold 200 characters, the name and two nonces of 9 (job_store.new_lease).
            raise SettingsError(f"{env_name('worker_name')}={self.worker_name[:40]!r}"
                                f"{'...' if len(self.worker_name) > 40 else ''} is not a name: 1 to "
                                f"{MAX_WORKER_NAME_CHARS} printable characters (it names this replica's leases "
                                "and batches)")
        if self.token and not _is_header_value(self.token):
            # Sent as `authorization: Bearer TOKEN` on every gRPC call: gRPC refuses any other character there
            # ("Invalid metadata"), so every call between the services would fail. Never shown: a secret.
            raise SettingsError(f"{env_name('token')} must be printable ASCII (letters, digits, punctuation; no "
                                "accent, line break or blank at either end): it travels in a gRPC header. "
                                "openssl rand -hex 24 makes one")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError(f"{env_name('tls_cert')} and {env_name('tls_key')} go together: give both or neither")
        for name in self.allowed_host_names:
            if any(c in name for c in "/@?#*") or name.startswith((".", ":")):
                raise SettingsError(f"{env_name('allowed_hosts')}: {name!r} is not a host name (give names such as "
                                    "report.example.com, without scheme or path)")
        if isinstance(self.min_free_bytes, int) and 0 <= self.min_free_bytes < MIN_FREE_BYTES_FLOOR:
            raise SettingsError(f"{env_name('min_free_bytes')}={self.min_free_bytes} is under the "
                                f"{MIN_FREE_BYTES_FLOOR >> 20} MiB the face store needs kept free: Qdrant Edge writes "
                                "through memory-mapped files (its WAL), and such a write into a full disk kills the "
                                "process (SIGBUS) mid-batch, where a refusal would stall it; give "
                                f"{MIN_FREE_BYTES_FLOOR} or more (default {256 << 20})")
        for f in fields(self):
            value = getattr(self, f.name)
            kind = str(f.type)
            wanted = int if kind == "int" else int | float
            if kind in ("int", "float") and (isinstance(value, bool) or not isinstance(value, wanted)):
                raise SettingsError(f"{env_name(f.name)}={value!r} is not a {_KIND_NAMES[kind]}")
            if kind == "float" and not math.isfinite(value):
                raise SettingsError(f"{env_name(f.name)}={value!r} is not a finite number")
            if problem := self.range_problem(f.name, value):
                raise SettingsError(f"{env_name(f.name)}={value!r} is {problem}")

    @staticmethod
    def range_problem(name: str, value: float) -> str:
        """Why `value` is out of the range of the setting `name` ("out of range (0 to 65535)"); "" when it is in it.
        The CLI's flags are checked with it, so that `--ingest-port 99999` is named as the flag it is."""
        low, high = _RANGES.get(name, (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            return f"out of range ({_describe_range(low, high)})"
        return ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Builds settings from `environ` (default: os.environ), then applies non-None `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(env_name(f.name))
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
    def allowed_host_names(self) -> list[str]:
        """INFLUENCERS_ALLOWED_HOSTS as a list of names (commas or blanks between them)."""
        return [part for part in self.allowed_hosts.replace(",", " ").split() if part]

    @property
    def identity_target(self) -> str:
        return self.identity_addr or host_port(self.host, self.identity_port)

    @property
    def analytics_target(self) -> str:
        return self.analytics_addr or host_port(self.host, self.analytics_port)

    @property
    def ingest_target(self) -> str:
        return host_port(self.host, self.ingest_port)

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


# INFLUENCERS_* variables read that are no setting: a test hook (services/common/crash.py) and the notebook's
# export folder (notebooks/influencer_analysis.ipynb).
OTHER_VARIABLES = ("INFLUENCERS_CRASH_AT", "INFLUENCERS_REPORT_DIR")


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Each INFLUENCERS_* variable of `environ` (default: os.environ) that nothing reads, a misspelt setting most
    likely, sorted, with the known name nearest to it (difflib), or None when none is near."""
    env = os.environ if environ is None else environ
    known = [env_name(f.name) for f in fields(Settings)] + list(OTHER_VARIABLES)
    # Compared without the prefix, which every name shares (with it, any name is "near" some setting).
    tails = {name.removeprefix(ENV_PREFIX): name for name in known}

    def nearest(name: str) -> str | None:
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), list(tails), n=1)
        return tails[close[0]] if close else None

    return [(name, nearest(name)) for name in sorted(env) if name.startswith(ENV_PREFIX) and name not in known]


_KIND_NAMES = {"int": "whole number", "float": "number", "bool": "boolean (1/0, true/false, yes/no, on/off)"}


def check_face_locator(settings: Settings) -> None:
    """SettingsError naming INFLUENCERS_FACE_LOCATOR when its model file is missing: identity would go on with
    whole-frame HOG, the locator asked for silently off (`true` or a misspelt path meant the same)."""
    model = settings.face_locator_model()
    if model is not None and not model.is_file():
        where = "make setup extracts it there" if settings.face_locator.lower() == "on" else "give on, off or " \
            "the path of a .tflite model file"
        raise SettingsError(f"{ENV_PREFIX}FACE_LOCATOR={settings.face_locator!r}: no model file at {model} ({where})")


def env_name(field_name: str) -> str:
    """The environment variable of a settings field: `web_port` -> `INFLUENCERS_WEB_PORT`."""
    return ENV_PREFIX + field_name.upper()


# Qdrant refuses a collection name with one of these characters (its validate_collection_name), or longer than
# 255 characters; identity also makes `<name>_side`, five more. Blanks and control characters are refused too: the
# name travels in the server's URL paths, and a blank at either end is a typing slip no one sees.
_COLLECTION_FORBIDDEN = '<>:"/\\|?*'
_MAX_COLLECTION_CHARS = 255 - len("_side")


def _is_collection_name(name: str) -> bool:
    return (0 < len(name) <= _MAX_COLLECTION_CHARS and name.isprintable() and not any(c.isspace() for c in name)
            and not any(c in _COLLECTION_FORBIDDEN for c in name))


def _in_memory(url: str) -> bool:
    """Whether a sqlite:// URL names no file: `sqlite://`, `sqlite:///:memory:`, `?mode=memory`."""
    path, _, query = url.removeprefix("sqlite://").partition("?")
    return path in ("", "/") or path.startswith("/:memory:") or "mode=memory" in query


def host_port(host: str, port: int) -> str:
    """HOST:PORT as gRPC and URLs take it: an IPv6 address in brackets (`[::1]:50051`); any other host, or one in
    brackets already, as given. `::1:50051` was read as an address without a port: INFLUENCERS_HOST=::1 failed
    every bind as "cannot bind ::1:0 (in use? ...)", and a client reached nothing."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def host_problem(host: str) -> str:
    """Why `host` (INFLUENCERS_HOST, --host) is no host name or address, or "": a URL or a host with a path
    (`http://ingest`, `ingest/`), credentials (`u:p@ingest`), a blank or a control character; an address that
    cannot exist (`999.1.1.1`, `1.2.3`: every label a number, but no four numbers from 0 to 255); a port written
    into it (`ingest:50051`) or an IPv6 address that is none (`fe80::1::2`); a name of characters or labels DNS
    does not carry (`ingest..example`, a label of 64 characters, `bücher.example` unconverted). Was taken: a client
    command waited its 3 s and said "the ingest service at 999.1.1.1:50051 is not answering", and suggested
    serving there."""
    if any(c in host for c in "/@?#") or any(c.isspace() or not c.isprintable() for c in host):
        return ("is not a host name or address: give one such as 127.0.0.1, ::1 or ingest.example.com, without "
                "scheme, path or blank")
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else ""
        return "" if _is_ipv6(inner) else "is not an IPv6 address in brackets (such as [::1])"
    if ":" in host:
        name, _, port = host.rpartition(":")
        if not _is_ipv6(host) and port.isascii() and port.isdigit() and ":" not in name:
            return (f"holds a port ({port}): give the host alone; each service's port has its own setting "
                    "(--ingest-port, INFLUENCERS_INGEST_PORT, ...)")
        return "" if _is_ipv6(host) else "is not an IPv6 address (such as ::1 or fe80::1)"
    name = host.removesuffix(".")
    labels = name.split(".")
    if all(NUMERIC_LABEL.fullmatch(label) for label in labels):
        if DOTTED_QUAD.fullmatch(name):
            return ""
        return "is not an IPv4 address: four numbers from 0 to 255 parted by dots (such as 127.0.0.1)"
    if not name.isascii():
        return ("is not a host name in ASCII: give a Unicode name in its IDNA form (xn--...), as "
                "`python3 -c 'print(\"NAME\".encode(\"idna\"))'` writes it")
    if len(name) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels):
        return ("is not a host name: labels of 1 to 63 letters, digits, '-' or '_' parted by dots, 253 "
                "characters at most (such as ingest.example.com)")
    return ""


def _is_ipv6(text: str) -> bool:
    """Whether `text` is an IPv6 address (a zone id allowed: `fe80::1%eth0`)."""
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def host_shown(host: str) -> str:
    """`host` as an error may quote it: cut to 80 characters, and what comes before an `@` (a user name and
    password, `ann:pw@ingest`) as `***`."""
    return ("***@" + host.rsplit("@", 1)[1] if "@" in host else host)[:80]


# The least INFLUENCERS_MIN_FREE_BYTES may be: one of Qdrant Edge's WAL segments (32 MiB, sparse files it maps and
# writes with memcpy). With 0 (no check) a write into a full disk was a SIGBUS inside the engine's update
# (faces/wal/open-1, found with gdb: docs/storage.md "Full disk"), which no handler can turn into an error; a write
# of one update (256 faces, ~1.5 MB) then always finds its blocks.
MIN_FREE_BYTES_FLOOR = 32 * 1024 * 1024

MAX_WORKER_NAME_CHARS = 180  # a replica's name in its leases and batches (Settings.worker_name)


def _is_header_value(text: str) -> bool:
    """Whether `text` may stand in a gRPC header value as sent: printable ASCII, no blank at either end."""
    return text.isascii() and text.isprintable() and text == text.strip()


def _is_address(address: str) -> bool:
    """HOST:PORT (an IPv6 host in brackets) with a port from 1 to 65535; a gRPC target URI (`dns:///...`,
    `unix:...`) is left to gRPC."""
    if address.startswith(("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:")):
        return True
    host, _, port = address.rpartition(":")
    return (bool(host.strip("[]")) and not host_problem(host) and port.isascii() and port.isdigit()
            and 1 <= int(port) <= 65535)


def _is_http_url(url: str) -> bool:
    """Whether `url` is http(s)://HOST[:PORT]... with a readable port."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and _port_readable(url)


def shown_http_url(url: str) -> str:
    """`url` as an error line may show it: scheme, host and port, without credentials, path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _database_port_readable(url: str) -> bool:
    """Whether a database URL's port, if it has one, is a number from 1 to 65535, read as SQLAlchemy reads the
    URL: its password may hold a `/`, `#` or `?` unquoted, which would end the host part for urlsplit."""
    from sqlalchemy.engine import make_url  # imported here: the CLI's other commands do without it
    from sqlalchemy.exc import ArgumentError

    try:
        port = make_url(url).port
    except ValueError:
        return False
    except ArgumentError:  # not a URL SQLAlchemy reads at all: opening the database says so, naming the setting
        return True
    return port is None or 1 <= port <= 65535


def _port_readable(url: str) -> bool:
    """Whether `url`'s port, if it has one, is a number from 1 to 65535 (the driver would fail on it later with a
    traceback). The URL itself is never quoted: it may hold a password."""
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    return port is None or port > 0


def _describe_range(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {low:g}"
    if low is None:
        return f"at most {high:g}"
    return f"{low:g} to {high:g}"


def _parse(type_name: object, raw: str, name: str) -> object:
    """`raw` (an environment value) as the field's type; SettingsError naming the variable otherwise."""
    kind = str(type_name)
    text = raw.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            value = float(text)
            if not math.isfinite(value):  # "nan", "inf": float() takes them, no threshold can be one
                raise ValueError(text)
            return value
    except ValueError:
        raise SettingsError(f"{env_name(name)}={raw!r} is not a {_KIND_NAMES[kind]}") from None
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise SettingsError(f"{env_name(name)}={raw!r} is not a {_KIND_NAMES[kind]}")
    if not text:  # blanks alone: a folder named "  " made in the working directory, a worker named "  ", ...
        raise SettingsError(f"{env_name(name)} is blanks alone: give a value, or leave it empty for the default")
    return raw
