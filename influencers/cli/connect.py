"""Reaching the running services from the CLI: a channel once connected, or one line naming the service."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import grpc

from influencers.cli.config import settings_from_args
from influencers.cli.output import ServiceUnavailable, start_hint
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.common.tls import channel_credentials

if TYPE_CHECKING:
    from services.common.clients import GrpcAnalytics, GrpcIdentity

CONNECT_WAIT_S = 3.0  # the first connection to a service: past this it is not running (the CLI fails in < 5 s)
DEFAULTS = Settings()


def reach_flags(settings: Settings, *services: str) -> str:
    """The options that reach `services` (ingest, identity, analytics) where this command reached them, for a
    command it suggests (`follow it: influencers jobs J --ingest-port 50054`): only those that differ from the
    defaults, so "" at the defaults. A service given by its address variable (INFLUENCERS_IDENTITY_ADDR) has no
    flag: its port is left out."""
    flags = [f" --host {settings.host}"] if settings.host != DEFAULTS.host else []
    for service in services:
        port = getattr(settings, f"{service}_port")
        if port != getattr(DEFAULTS, f"{service}_port") and not getattr(settings, f"{service}_addr", ""):
            flags.append(f" --{service}-port {port}")
    return "".join(flags)


def reached(settings: Settings, service: str, target: str, actor: str = "") -> grpc.Channel:
    """A channel to `service` at `target`, once it has connected; ServiceUnavailable naming the service when
    it has not within CONNECT_WAIT_S (a refused connection is retried with backoff until then: a service just
    started gets that long to listen)."""
    channel = open_channel(target, settings.token, channel_credentials(settings), actor=actor)
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_WAIT_S)
    except grpc.FutureTimeoutError:
        channel.close()
        raise ServiceUnavailable(f"the {service} service at {target} is not answering (no connection within "
                                 f"{CONNECT_WAIT_S:g} s){start_hint(reach_flags(settings, service))}") from None
    return channel


def running_services(args: argparse.Namespace) -> tuple[GrpcIdentity, GrpcAnalytics]:
    """The running identity and analytics services, each reached (or ServiceUnavailable naming it)."""
    from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc
    from services.common.actor import cli_actor
    from services.common.clients import GrpcAnalytics, GrpcIdentity

    s = settings_from_args(args)
    identity = identity_pb2_grpc.IdentityServiceStub(reached(s, "identity", s.identity_target, cli_actor()))
    analytics = analytics_pb2_grpc.AnalyticsServiceStub(
        open_channel(s.analytics_target, s.token, channel_credentials(s)) if args.command == "review"  # reads only
        else reached(s, "analytics", s.analytics_target))
    return GrpcIdentity(identity, s.rpc_timeout_s), GrpcAnalytics(analytics, s.rpc_timeout_s)
