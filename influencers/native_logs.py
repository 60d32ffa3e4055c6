"""gRPC's C core writes lines of its own (`E1206 12:00:00 ... add_port.cc:83] Failed to add port ...`) straight to
the stderr file descriptor, past Python's logging: no JSON, no fields, and a second copy of a failure one of our
own lines already reports (a bind failure: `analytics: cannot bind HOST:PORT (in use? choose another with
--analytics-port or INFLUENCERS_ANALYTICS_PORT)`). The core reads GRPC_VERBOSITY once, when grpc is imported, so
the default is set here, by the package the `influencers` command and `python -m influencers` import first."""

from __future__ import annotations

from collections.abc import MutableMapping

VARIABLE = "GRPC_VERBOSITY"
DEFAULT = "NONE"


def quiet_native_grpc_logs(environ: MutableMapping[str, str]) -> None:
    """Sets GRPC_VERBOSITY to NONE in `environ` (os.environ: worker processes inherit it) unless the operator
    gave one (ERROR or DEBUG bring gRPC's own lines back, raw). Call before grpc is imported."""
    if not environ.get(VARIABLE, "").strip():
        environ[VARIABLE] = DEFAULT
