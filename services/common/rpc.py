"""gRPC plumbing shared by the three services: server factory (health, reflection, auth, limits) and
client channels. Servicers themselves live in each service and only translate protos to domain calls."""

from __future__ import annotations

import errno
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import tracing
from services.common.actor import ActorClientInterceptor
from services.common.boundary import brief
from services.common.call_names import CallNames, failed_call
from services.common.client_metadata import MetadataClientInterceptor
from services.common.damage import DISK_FULL, DiskFull, StoreDamaged, engine_error, is_disk_full
from services.common.database import database_unreachable
from services.common.datadir import data_dir_hidden
from services.common.grpc_metrics import ClientMetrics, ServerMetrics
from services.common.grpc_types import ServerContinuation
from services.common.method_handlers import rewrapped
from services.common.metrics import families, register_service
from services.common.reloading_channel import ReloadingChannel, Roots
from services.common.request_parsing import RequestParsing
from services.common.settings import SettingsError, env_name, host_port

log = logging.getLogger(__name__)

# The one send and receive limit of every server and client of ours, in bytes. A request over it ends in the
# transport's RESOURCE_EXHAUSTED before a servicer sees it; a frame under it but over Settings.max_frame_bytes
# (which is kept below it) is refused by identity as INVALID_ARGUMENT naming the frame.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
TOKEN_HEADER = "authorization"
# Health service names. LIVENESS is SERVING for as long as the process answers (liveness probes: restart
# only a hung or dead process); "" and each service's own name follow its stores (readiness probes: send
# no traffic while a store is unreachable). A Qdrant outage so makes pods unready, never restarts them.
LIVENESS = "liveness"
READINESS = ""
# The first pause of a readiness check that has not passed yet, in seconds (doubled up to its interval).
_FIRST_PAUSE_S = 0.1
_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]
# Every call of ours is safe to retry while the server is unreachable (writes are idempotent upserts
# keyed by content id; StartIngest by its request_id, which the CLI always sends: without one, a call whose
# connection dropped after it stored its job was sent again and made a second); round robin spreads calls over all
# replicas behind a headless service name.
_SERVICE_CONFIG = json.dumps({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
        "name": [{"service": f"influencers.v1.{svc}"} for svc in ("IngestService", "IdentityService",
                                                                    "AnalyticsService")],
        "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.2s", "maxBackoff": "2s", "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"]},
    }],
})
# Each channel keeps its own connections (a local subchannel pool). In gRPC's shared pool, a channel still
# retrying a dead address lent its backoff to any new channel to that address: a server started later on
# the same port was answered "Connection refused" for seconds (CI, a port the kernel handed out again).
_CLIENT_OPTIONS = [*_OPTIONS, ("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1),
                   ("grpc.use_local_subchannel_pool", 1)]


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "[::1]") or host.startswith("127.")


class PortInUse(OSError):
    """A server cannot bind its port (another process has it)."""


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>`; health checks stay open for probes. The token
    is compared in constant time, so the time of a refusal does not tell how much of a guess was right."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

        def deny(request: object, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token")

        # One refusal of each kind of method: a unary refusal of a client stream read "exactly one request message"
        # of it, so a stream of none (an AnalyzeVideo without frames) was answered UNIMPLEMENTED in gRPC's words.
        self._denials = {
            (False, False): grpc.unary_unary_rpc_method_handler(deny),
            (False, True): grpc.unary_stream_rpc_method_handler(deny),
            (True, False): grpc.stream_unary_rpc_method_handler(deny),
            (True, True): grpc.stream_stream_rpc_method_handler(deny),
        }

    def intercept_service(self, continuation: ServerContinuation, handler_call_details: grpc.HandlerCallDetails
                          ) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method.startswith("/grpc.health.v1.Health/"):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        handler = continuation(handler_call_details)
        if token_matches(bearer_token(metadata.get(TOKEN_HEADER)), self._expected):
            return handler
        if handler is None:  # an unknown method: refused for the token all the same, its absence not told
            return self._denials[(False, False)]
        return self._denials[(bool(handler.request_streaming), bool(handler.response_streaming))]


def bearer_token(authorization: str | bytes | None) -> str | bytes | None:
    """The token of an `authorization` value of the Bearer scheme, None for another scheme or none. The scheme is
    a case-insensitive token (RFC 9110 11.1: `bearer x`, as curl and grpcurl users type it, is `Bearer x`), and
    blanks around the token are no part of it."""
    if authorization is None:
        return None
    if isinstance(authorization, bytes):
        scheme, _, token_bytes = authorization.partition(b" ")
        return token_bytes.strip(b" \t") if scheme.lower() == b"bearer" else None
    scheme, _, token = authorization.partition(" ")
    return token.strip(" \t") if scheme.lower() == "bearer" else None


def token_matches(sent: str | bytes | None, expected: bytes) -> bool:
    """Constant-time comparison of a sent `authorization` value with the expected one (hmac.compare_digest
    on bytes: str would refuse non-ASCII input with a TypeError instead of answering False)."""
    if sent is None:
        return False
    given = sent.encode("utf-8", "surrogateescape") if isinstance(sent, str) else bytes(sent)
    return hmac.compare_digest(given, expected)


class ErrorGuard(grpc.ServerInterceptor):
    """Answers an exception that a servicer did not expect with INTERNAL and a plain message, and logs it
    here with its traceback. gRPC's own answer (UNKNOWN, "Exception calling application: " and the
    exception's text) shows callers the internals: an engine's parse error, a path, an object's repr.
    `data_dir`: this process's data dir, written DATA in the details of every error its calls answer (a damaged
    store's or a full disk's file): the caller, another machine's process, has a data dir of its own."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = data_dir

    def intercept_service(self, continuation: ServerContinuation, handler_call_details: grpc.HandlerCallDetails
                          ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        wrap = _guarded_stream if handler.response_streaming else _guarded
        return rewrapped(handler, lambda behavior: wrap(behavior, method, self._data_dir))


class _DataDirHidden:
    """A servicer's context whose error details (abort, set_details) write `data_dir` as DATA."""

    def __init__(self, context: grpc.ServicerContext, data_dir: Path) -> None:
        self._context = context
        self._data_dir = data_dir

    def __getattr__(self, name: str) -> object:
        return getattr(self._context, name)

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._context.abort(code, data_dir_hidden(details, self._data_dir))

    def set_details(self, details: str) -> None:
        self._context.set_details(data_dir_hidden(details, self._data_dir))


def _context(context: grpc.ServicerContext, data_dir: Path | None) -> grpc.ServicerContext:
    return _DataDirHidden(context, data_dir) if data_dir is not None else context  # type: ignore[return-value]


def _guarded(behavior: Callable, method: str, data_dir: Path | None = None) -> Callable:  # type: ignore[type-arg]
    def call(request: object, context: grpc.ServicerContext) -> object:
        context = _context(context, data_dir)
        try:
            return behavior(request, context)
        except Exception as exc:
            _unexpected(context, method, exc)
            raise

    return call


def _guarded_stream(behavior: Callable, method: str, data_dir: Path | None = None) -> Callable:  # type: ignore[type-arg]
    def call(request: object, context: grpc.ServicerContext) -> Iterator[object]:
        context = _context(context, data_dir)
        try:
            yield from behavior(request, context)
        except Exception as exc:
            _unexpected(context, method, exc)
            raise

    return call


def _unexpected(context: grpc.ServicerContext, method: str, exc: Exception) -> None:
    """Inside an `except`: RESOURCE_EXHAUSTED for a full disk (DiskFull, met by any call that writes, or a
    database's own "disk is full"), DATA_LOSS for a damaged store (StoreDamaged, naming its file), else
    INTERNAL for an unexpected exception; returns (the caller re-raises) for an abort of the servicer's own
    (its status code is set already) and for a call the client has ended."""
    if context.code() is not None or not context.is_active():
        return
    if isinstance(exc, DiskFull):
        log.warning("%s refused: %s", method, exc)
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    if isinstance(exc, StoreDamaged):  # a page of a store that cannot be read: its one line says which and what to do
        log.error("%s failed: %s", method, exc)
        context.abort(grpc.StatusCode.DATA_LOSS, str(exc))
    if _says_disk_full(exc):  # a database's write on a full disk (SQLite: "database or disk is full")
        reason = engine_error(getattr(exc, "orig", exc))
        why = f"could not write ({reason}); free some space and run again"
        log.warning("%s refused: %s: %s", method, DISK_FULL, why)  # the method once (was: and again in `why`)
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{DISK_FULL}: {method.rsplit('/', 1)[-1]} {why}")
    # Checked after a full disk: PostgreSQL's "no space left" is an OperationalError too.
    if database_unreachable(exc):  # a restart, a failover: the caller tries again (ingest puts its row back)
        log.warning("%s: the database is unreachable: %s", method, " ".join(str(exc.orig).split()))
        context.abort(grpc.StatusCode.UNAVAILABLE, f"{method.rsplit('/', 1)[-1]}: the database is unreachable")
    log.exception("%s failed%s", method, f": {failed_call(exc)}" if isinstance(exc, grpc.RpcError) else "")
    # The method is not named: the caller names the call it made ("identity.AnalyzeVideo failed: INTERNAL ...").
    context.abort(grpc.StatusCode.INTERNAL, "internal error (the service's log has the details)")


def _says_disk_full(exc: Exception) -> bool:
    """Whether the error itself says the disk is full: a database error's own words (never the statement's
    parameters SQLAlchemy adds to its text: a URL '.../disk full.mp4'), an OSError's errno (not its file name)."""
    if isinstance(exc, sa.exc.DBAPIError):
        return is_disk_full(exc.orig)
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    return is_disk_full(exc)


class NotReady(Exception):
    """A readiness check's answer "no", naming the dependency that does not answer."""


def named_checks(*checks: tuple[str, Callable[[], bool]]) -> Callable[[], bool]:
    """One readiness check of several dependencies, in order: true when each is; otherwise NotReady naming the
    first that is not (and its error), so the "not ready" log line says which one."""
    def check() -> bool:
        for what, ok in checks:
            try:
                answered = ok()
            except Exception as exc:  # noqa: BLE001 - a probe's failure is that dependency's "no"
                raise NotReady(f"{what}: {not_ready_reason(exc)}") from exc
            if not answered:
                raise NotReady(f"{what} does not answer")
        return True

    return check


def not_ready_reason(exc: BaseException) -> str:
    """A failed readiness check's cause on one line: a NotReady's text, a database driver's own message (not
    SQLAlchemy's statement and link), or `Type: message`; cut to a log line's length."""
    if isinstance(exc, NotReady):
        text = str(exc)
    elif isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        text = f"the database is unreachable: {exc.orig}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return brief(" ".join(text.split()))


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: tuple[str, ...]
    name: str = ""  # the server's own name (ingest, identity, analytics): the `service` label of influencers_ready
    _draining: threading.Event = field(default_factory=threading.Event)
    _readiness: threading.Lock = field(default_factory=threading.Lock)

    def set_serving(self, serving: bool) -> None:
        """Readiness: the overall ("") status and each service's own. Liveness is not touched."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in (*self.service_names, READINESS):
            self.health.set(name, status)
        if self.name:
            families().ready.labels(self.name).set(1 if serving else 0)

    def watch(self, dependency_ok: Callable[[], bool], interval_s: float = 5.0) -> None:
        """Keeps readiness in step with a dependency (the vector store, the SQL store): NOT_SERVING until
        `dependency_ok()` first answers true, and again while it is false or raises, SERVING once it does; checked
        at once, then every `interval_s` seconds (until the first pass, after 0.1, 0.2, 0.4 ... s up to
        `interval_s`: a start is not kept waiting a whole interval by a store that answered a moment late).
        Liveness stays SERVING throughout. Each turn is logged once (a WARNING naming why, an INFO when ready
        again): the health answer alone says nothing of the cause, and the operator paged by
        InfluencersStoreNotReady reads the log first."""
        self._stopping = threading.Event()
        label = self.name or "server"
        with self._readiness:  # not checked yet: not ready (a server built without a check said SERVING)
            if not self._draining.is_set():
                self.set_serving(False)

        def loop() -> None:
            ready: bool | None = None  # None: not checked yet (start-up is logged as "serving on")
            since = time.monotonic()
            pause = min(_FIRST_PAUSE_S, interval_s)
            while True:
                try:
                    ok, why = bool(dependency_ok()), "its readiness check answered no"
                except Exception as exc:  # noqa: BLE001 - any failure of the probe is "not serving"
                    ok, why = False, not_ready_reason(exc)
                with self._readiness:
                    if not self._draining.is_set():
                        self.set_serving(ok)
                        if ok is not ready:
                            if not ok:
                                log.warning("%s not ready: %s (readiness NOT_SERVING until it answers; liveness "
                                            "stays SERVING)", label, why)
                            elif ready is False:
                                log.info("%s ready again after %.0f s", label, time.monotonic() - since)
                            ready, since = ok, time.monotonic()
                if ok or pause >= interval_s:
                    pause = interval_s  # once it has passed, or the start's pauses have grown to the interval
                if self._stopping.wait(pause):
                    return
                pause = min(pause * 2, interval_s)

        threading.Thread(target=loop, name="health-watch", daemon=True).start()

    def drain(self) -> None:
        """Readiness NOT_SERVING for good (the store check no longer turns it back), calls still answered: the
        first step of a stop, so that probes and balancers send nothing new while work in flight finishes."""
        if getattr(self, "_stopping", None) is not None:
            self._stopping.set()
        with self._readiness:
            self._draining.set()
            self.set_serving(False)

    def stop(self, grace_s: float = 5.0) -> None:
        """Stops accepting calls, lets in-flight calls finish for up to `grace_s` seconds."""
        self.drain()
        self.health.set(LIVENESS, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.stop(grace_s).wait()


def build_server(
    name: str,
    host: str,
    port: int,
    register: Iterable[Callable[[grpc.Server], str]],
    token: str = "",
    max_workers: int = 8,
    credentials: grpc.ServerCredentials | None = None,
    data_dir: Path | None = None,
    ready: Callable[[], bool] | None = None,
) -> RunningServer:
    """Creates, binds and starts a server. Each `register` callable adds a servicer and returns its full
    service name. Port 0 picks a free port; the bound port is logged and returned. `credentials`: TLS
    (services/common/tls.py), else plaintext. `data_dir`: written DATA in the details of the errors it answers.
    `ready`: the readiness check of its dependencies (`RunningServer.watch`): readiness answers NOT_SERVING from
    the first moment until it passes. Without one, readiness is SERVING at once (nothing to wait for)."""
    if not token and not is_loopback(host):
        raise SettingsError(f"{name}: binding to {host} (beyond loopback) needs a token (INFLUENCERS_TOKEN)")
    # Tracing outermost (it sees every call), then metrics: a call the token check refuses or the guard
    # answers INTERNAL is counted with that code.
    interceptors: list[grpc.ServerInterceptor] = [*tracing.server_interceptors(name), ServerMetrics()]
    interceptors += [TokenInterceptor(token)] if token else []
    interceptors += [ErrorGuard(data_dir), RequestParsing()]  # parsing innermost: the guard sees what it refuses
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name),
        interceptors=interceptors,
        # Without so_reuseport 0, a second process binds the same port silently and steals half the calls.
        # A connection lives 5 min, so that clients find replicas added later; calls open on it then have
        # 10 min (the default RPC deadline) to finish. Progress streams longer than that are reopened.
        options=[*_OPTIONS, ("grpc.so_reuseport", 0), ("grpc.max_connection_age_ms", 5 * 60_000),
                 ("grpc.max_connection_age_grace_ms", 10 * 60_000)],
    )
    names = tuple(reg(server) for reg in register)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        address = host_port(host, port)
        bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError:  # newer grpcio raises where older returned 0
        bound = 0
    if bound == 0:
        # gRPC's own words are in its C core's log, off by default (influencers/native_logs.py): this line says it.
        where = (f"choose another with --{name}-port or {env_name(name + '_port')}"
                 if name in ("ingest", "identity", "analytics") else "choose another port")
        raise PortInUse(f"{name}: cannot bind {host_port(host, port)} (in use? {where})")
    register_service(name)  # the families this service updates, on the process's endpoint
    running = RunningServer(server, bound, health_servicer, names, name)
    health_servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    # Set before the server answers: gRPC's health servicer starts with "" SERVING, and readiness was SERVING
    # before the check's first answer, so a probe or a balancer sent calls to a service whose store had not
    # answered yet (or never would).
    running.set_serving(ready is None)
    server.start()
    if ready is not None:
        running.watch(ready)
    log.info("%s serving on %s%s", name, host_port(host, bound),
             "" if ready is None else " (readiness SERVING once its first readiness check passes)")
    return running


class _TokenClientInterceptor(MetadataClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = ((TOKEN_HEADER, f"Bearer {token}"),)

    def extra(self) -> tuple[tuple[str, str], ...]:
        return self._metadata



def open_channel(target: str, token: str = "", credentials: grpc.ChannelCredentials | Roots | None = None,
                 service: str = "", actor: str = "") -> grpc.Channel:
    """A channel with the same message limits as the servers, sending the token when one is set; over TLS
    when `credentials` are given (services/common/tls.py; roots read again when their file changes: a channel that
    follows them, reloading_channel.py). `service`: which of our services calls (its
    trace context goes along with each call while tracing is on). Calls name their actor for the audit
    trail (services/common/actor.py: `actor`, or the request's current_actor)."""
    channel: grpc.Channel
    if credentials is None:
        channel = grpc.insecure_channel(target, options=_CLIENT_OPTIONS)
    elif isinstance(credentials, grpc.ChannelCredentials):
        channel = grpc.secure_channel(target, credentials, options=_CLIENT_OPTIONS)
    else:
        channel = ReloadingChannel(credentials, lambda now: grpc.secure_channel(target, now, options=_CLIENT_OPTIONS))
    channel = grpc.intercept_channel(channel, CallNames())  # innermost: names the very error the caller catches
    channel = grpc.intercept_channel(channel, ActorClientInterceptor(actor))
    if token:
        channel = grpc.intercept_channel(channel, _TokenClientInterceptor(token))
    return tracing.traced_channel(grpc.intercept_channel(channel, ClientMetrics()), service)


def wait_healthy(channel: grpc.Channel, timeout_s: float = 30.0) -> None:
    """Blocks until the server behind `channel` answers SERVING, or raises TimeoutError after `timeout_s`.
    NOT_SERVING, or UNAVAILABLE as a starting service hands its port over to its own server, is asked again
    every 0.2 s: a service starting (its stores opened and migrated, services/common/starting.py) is waited for.
    It was taken as the answer, so `influencers ingest` right after a fleet's start failed at once, saying it had
    waited 60 s."""
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout_s
    while True:
        left = max(deadline - time.monotonic(), 0.01)
        try:
            grpc.channel_ready_future(channel).result(timeout=left)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=left)
        except grpc.FutureTimeoutError as exc:
            raise TimeoutError(f"service not healthy: {exc}") from exc
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() >= deadline:
                raise TimeoutError(f"service not healthy: {exc}") from exc
        else:
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError("service reports NOT_SERVING")
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))
