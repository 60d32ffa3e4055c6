"""Container health check: asks the gRPC health service on 127.0.0.1 about a service.

Usage: python healthcheck.py [--live | --ready] SERVICE   (SERVICE is ingest, identity or analytics)

  --live   liveness: the process answers (health name "liveness", SERVING for as long as the server runs).
           For probes that restart the container: a store outage must not restart it.
  --ready  readiness (the default): the service can do its work, its stores reachable (health name "",
           which follows the stores). For probes that route traffic and order start-up.

The port is read from INFLUENCERS_<SERVICE>_PORT, the same variable the service binds with (the image sets
it). Exits 0 when the server answers SERVING within the timeout, 1 otherwise (Docker reserves 2). Imports
only grpc and grpc_health, so it starts in well under a second and does not load the project's code.
Health calls need no token: the servers leave /grpc.health.v1.Health/ open for probes.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICES = ("ingest", "identity", "analytics")
# Health service names, as services/common/rpc.py sets them (LIVENESS, READINESS).
CHECKS = {"--live": "liveness", "--ready": ""}
TIMEOUT_S = 3.0


def check(port: int, service: str = "", timeout_s: float = TIMEOUT_S) -> bool:
    """True when the server on 127.0.0.1:`port` reports SERVING for the health name `service`."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as exc:
            print(f"health check failed: {exc.code().name} {exc.details()}", file=sys.stderr)
            return False
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"health check: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}", file=sys.stderr)
        return False
    return True


def main(argv: list[str]) -> int:
    args = argv[1:]
    mode = "--ready"
    if args and args[0] in CHECKS:
        mode = args.pop(0)
    if len(args) != 1 or args[0] not in SERVICES:
        print(f"usage: {argv[0]} [--live|--ready] {{{','.join(SERVICES)}}}", file=sys.stderr)
        return 1
    variable = f"INFLUENCERS_{args[0].upper()}_PORT"
    try:
        port = int(os.environ[variable])
    except (KeyError, ValueError):
        print(f"{variable} is not set to a port number", file=sys.stderr)
        return 1
    return 0 if check(port, CHECKS[mode]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
