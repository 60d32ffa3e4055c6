"""The health answer of a service while it starts: its stores opened and migrated before its own server exists.

A migration of a large store can take minutes. Without an answer meanwhile, the probes could not tell a start
in progress from a dead process: k8s' startup probe (liveness) killed a migration running past its 10 minutes,
which rolled it back, and the next start began it again. `StartingHealth` serves the gRPC health service alone
on the service's port from the first moment: liveness SERVING (the process is alive, working), readiness
NOT_SERVING (no calls yet). Any other call is answered UNAVAILABLE, "starting", as a restart is: a caller that
did not wait for readiness (an ingest replica whose job reached a starting analytics) gives the row back and tries
again, where UNIMPLEMENTED ("Method not found!": another version) failed every row of the job. `handover()` frees
the port for the service's own server, which then answers both.
"""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common.metrics import families, register_service
from services.common.rpc import LIVENESS, READINESS
from services.common.settings import host_port

log = logging.getLogger(__name__)


def _starting(name: str) -> grpc.RpcMethodHandler:
    """A handler that answers a call, of any arity, UNAVAILABLE naming the service as starting."""
    def refuse(requests: object, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAVAILABLE, f"{name} is starting: its stores are being opened and migrated")
    return grpc.stream_stream_rpc_method_handler(refuse)


class _Starting(grpc.GenericRpcHandler):
    """Every method health does not serve: UNAVAILABLE while the service starts."""

    def __init__(self, name: str) -> None:
        self._handler = _starting(name)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return self._handler


class StartingHealth:
    """Health alone on `host`:`port` (port 0: nothing is served, there is no port a probe could know)."""

    def __init__(self, name: str, host: str, port: int, credentials: grpc.ServerCredentials | None = None) -> None:
        self.name = name
        self._server: grpc.Server | None = None
        register_service(name)  # its metrics endpoint, up from the start, says it is not ready yet
        families().ready.labels(name).set(0)
        if port == 0:
            return
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{name}-starting"),
                             options=[("grpc.so_reuseport", 0)])
        servicer = health.HealthServicer()
        servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
        servicer.set(READINESS, health_pb2.HealthCheckResponse.NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        server.add_generic_rpc_handlers((_Starting(name),))  # after health's: consulted only for other methods
        address = host_port(host, port)
        try:
            bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        except RuntimeError:  # newer grpcio raises where older returned 0
            bound = 0
        if bound == 0:
            # The service's own server says why when it binds (PortInUse naming the setting); nothing to add here.
            return
        server.start()
        self._server = server
        log.info("%s starting: health on %s answers NOT_SERVING (readiness) until its stores are open and "
                 "migrated", name, host_port(host, bound))

    def handover(self) -> None:
        """Stops answering, so that the service's own server can bind the port. Safe to call twice."""
        if self._server is not None:
            self._server.stop(None).wait()
            self._server = None
