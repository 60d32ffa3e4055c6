"""Container health check: asks the gRPC health service on 127.0.0.1 about a service.

Usage: python healthcheck.py [--live | --ready] SERVICE   (SERVICE is ingest, identity or analytics)

  --live   liveness: the process answers (health name "liveness", SERVING for as long as the server runs).
           For probes that restart the container: a store outage must not restart it.
  --ready  readiness (the default): the service can do its work, its stores reachable (health name "",
           which follows the stores). For probes that route traffic and order start-up.

The port is read from INFLUENCERS_<SERVICE>_PORT, the same variable the service binds with (the image sets
it). Exits 0 when the server answers SERVING within the timeout, 1 otherwise (Docker reserves 2). Imports
only grpc and grpc_health, so it starts in well under a second and does not load the project's code.
Health calls need no token: the servers leave /grpc.health.v1.Health/ open for probes. With TLS on
(INFLUENCERS_TLS_CERT set, the servers then speak TLS only) the check speaks TLS too: it trusts
INFLUENCERS_TLS_CA (the system's authorities without one), as the services' own clients do, and expects the
name the server's certificate gives (its first DNS name), since it connects to 127.0.0.1.
"""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICES = ("ingest", "identity", "analytics")
# Health service names, as services/common/rpc.py sets them (LIVENESS, READINESS).
CHECKS = {"--live": "liveness", "--ready": ""}
TIMEOUT_S = 3.0


def _channel(port: int, environ: dict[str, str]) -> grpc.Channel:
    """Plaintext to 127.0.0.1:`port`, or TLS when INFLUENCERS_TLS_CERT is set (see the module's text)."""
    target = f"127.0.0.1:{port}"
    # Its own connections: a shared one still backing off from an earlier failure answers for a new server.
    local = [("grpc.use_local_subchannel_pool", 1)]
    cert = environ.get("INFLUENCERS_TLS_CERT", "")
    if not cert:
        return grpc.insecure_channel(target, options=local)
    ca = environ.get("INFLUENCERS_TLS_CA", "")
    roots = Path(ca).read_bytes() if ca else None
    options = local + ([("grpc.ssl_target_name_override", name)] if (name := _certificate_name(cert)) else [])
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(roots), options=options)


def _certificate_name(path: str) -> str:
    """The first DNS name of the certificate at `path` (its subject's common name without one); "" when it
    cannot be read: the check then expects 127.0.0.1."""
    try:
        decoded = ssl._ssl._test_decode_cert(path)  # noqa: SLF001 - CPython's PEM reader, no third-party import
    except (OSError, ssl.SSLError, ValueError):
        return ""
    dns = [value for kind, value in decoded.get("subjectAltName", ()) if kind == "DNS"]
    common = [value for rdn in decoded.get("subject", ()) for key, value in rdn if key == "commonName"]
    return (dns or common or [""])[0]


def check(port: int, service: str = "", timeout_s: float = TIMEOUT_S,
          environ: dict[str, str] | None = None) -> bool:
    """True when the server on 127.0.0.1:`port` reports SERVING for the health name `service`."""
    try:
        channel = _channel(port, dict(os.environ) if environ is None else environ)
    except OSError as exc:
        print(f"health check failed: cannot read INFLUENCERS_TLS_CA ({exc.strerror or exc})", file=sys.stderr)
        return False
    with channel:
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
