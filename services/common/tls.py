"""TLS for gRPC from the settings' PEM files: servers present INFLUENCERS_TLS_CERT/_KEY, clients check the
server against INFLUENCERS_TLS_CA (the system's authorities when only a certificate is set). Without any of
them, every channel is plaintext (loopback, or a mesh that encrypts for us). The report page has no TLS of
its own (waitress): put it behind the ingress or proxy that terminates TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from services.common.settings import Settings, SettingsError, env_name


def _read(field: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"{env_name(field)}={path!r} cannot be read ({exc.strerror or exc})") from None


def _check_pair(cert: str, key: str, cert_pem: bytes) -> None:
    """SettingsError naming the variable when the files are no PEM certificate and its unencrypted key: gRPC
    would take them and fail only at the bind, as "cannot bind HOST:PORT (in use?)"."""
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise SettingsError(f"{env_name('tls_cert')}={cert!r} is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password="")
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(f"{env_name('tls_key')}={key!r} is not the unencrypted PEM private key of "
                            f"{env_name('tls_cert')}'s certificate ({exc})") from None


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The server's certificate and key, or None (plaintext)."""
    if not settings.tls_cert:
        return None
    key, cert = _read("tls_key", settings.tls_key), _read("tls_cert", settings.tls_cert)
    _check_pair(settings.tls_cert, settings.tls_key, cert)
    return grpc.ssl_server_credentials([(key, cert)])


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """What a client checks servers with when TLS is on (a CA file, or the system's), or None (plaintext)."""
    if not (settings.tls_ca or settings.tls_cert):
        return None
    if not settings.tls_ca:
        return grpc.ssl_channel_credentials(None)
    roots = _read("tls_ca", settings.tls_ca)
    try:  # gRPC would take any bytes, and every call would then fail as "not answering"
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=settings.tls_ca)
    except ssl.SSLError as exc:
        raise SettingsError(f"{env_name('tls_ca')}={settings.tls_ca!r} holds no PEM certificate ({exc})") from None
    return grpc.ssl_channel_credentials(roots)
