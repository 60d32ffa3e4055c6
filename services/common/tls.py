"""TLS for gRPC from the settings' PEM files: servers present INFLUENCERS_TLS_CERT/_KEY, clients check the
server against INFLUENCERS_TLS_CA (the system's authorities when only a certificate is set). Without any of
them, every channel is plaintext (loopback, or a mesh that encrypts for us). The report page has no TLS of
its own (waitress): put it behind the ingress or proxy that terminates TLS."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.common.settings import Settings, SettingsError, env_name


def _read(field: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"{env_name(field)}={path!r} cannot be read ({exc.strerror or exc})") from None


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The server's certificate and key, or None (plaintext)."""
    if not settings.tls_cert:
        return None
    return grpc.ssl_server_credentials([(_read("tls_key", settings.tls_key), _read("tls_cert", settings.tls_cert))])


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """What a client checks servers with when TLS is on (a CA file, or the system's), or None (plaintext)."""
    if not (settings.tls_ca or settings.tls_cert):
        return None
    return grpc.ssl_channel_credentials(_read("tls_ca", settings.tls_ca) if settings.tls_ca else None)
