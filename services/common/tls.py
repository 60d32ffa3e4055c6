"""TLS for gRPC from the settings' PEM files: servers present INFLUENCERS_TLS_CERT/_KEY, clients check the
server against INFLUENCERS_TLS_CA (the system's authorities when only a certificate is set). Without any of
them, every channel is plaintext (loopback, or a mesh that encrypts for us). The report page has no TLS of
its own (waitress): put it behind the ingress or proxy that terminates TLS.

A server reads its certificate and key again when either file changes (a renewal by cert-manager, a Secret
rotated): gRPC asks for them at each new connection's handshake, and a look at both files' stat answers whether
they moved. Each certificate's expiry is a metric (influencers_tls_certificate_expiration_timestamp_seconds)."""

from __future__ import annotations

import logging
import os
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path

import grpc

from services.common.certificates import certificate_facts, pem_certificates
from services.common.metrics import record_certificates
from services.common.settings import Settings, SettingsError, env_name

log = logging.getLogger(__name__)


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


def _stamp(*paths: str) -> tuple[tuple[int, int, int], ...] | None:
    """What tells a file's new contents from its old (a rename over it, as Kubernetes' Secret volumes do, or a
    write in place); None while one cannot be read."""
    try:
        return tuple((st.st_ino, st.st_size, st.st_mtime_ns) for st in (os.stat(path) for path in paths))
    except OSError:
        return None


def _expiry(cert_pem: bytes) -> str:
    """When the first certificate (the one presented) expires, for a log line."""
    try:
        facts = certificate_facts(pem_certificates(cert_pem)[0])
    except (ValueError, IndexError):
        return "an unknown date"
    return datetime.fromtimestamp(facts.not_after, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Reloading:
    """gRPC's certificate fetcher: the certificate and key again when their files changed since the last read,
    else None (keep serving the same). A pair that does not load (the key not yet written beside the new
    certificate) is logged and not served; the previous pair is served meanwhile."""

    def __init__(self, cert: str, key: str, stamp: tuple[tuple[int, int, int], ...] | None) -> None:
        self._cert, self._key = cert, key
        self._stamp = stamp
        self._lock = threading.Lock()

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        stamp = _stamp(self._cert, self._key)
        if stamp is None or stamp == self._stamp:
            return None
        with self._lock:
            if stamp == self._stamp:
                return None
            try:
                key_pem, cert_pem = _read("tls_key", self._key), _read("tls_cert", self._cert)
                _check_pair(self._cert, self._key, cert_pem)
            except SettingsError as exc:
                self._stamp = stamp  # said once per change of the files, not at every handshake
                log.warning("TLS certificate not reloaded: %s (the one loaded before is still served)", exc)
                return None
            if _stamp(self._cert, self._key) != stamp:  # changed while it was read: read again at the next handshake
                return None
            self._stamp = stamp
        record_certificates(env_name("tls_cert"), cert_pem)
        log.info("TLS certificate reloaded from %s: it expires %s", self._cert, _expiry(cert_pem))
        return grpc.ssl_server_certificate_configuration([(key_pem, cert_pem)])


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The server's certificate and key, read again whenever their files change, or None (plaintext)."""
    if not settings.tls_cert:
        return None
    stamp = _stamp(settings.tls_cert, settings.tls_key)
    key, cert = _read("tls_key", settings.tls_key), _read("tls_cert", settings.tls_cert)
    _check_pair(settings.tls_cert, settings.tls_key, cert)
    record_certificates(env_name("tls_cert"), cert)
    return grpc.dynamic_ssl_server_credentials(grpc.ssl_server_certificate_configuration([(key, cert)]),
                                               _Reloading(settings.tls_cert, settings.tls_key, stamp))


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
    record_certificates(env_name("tls_ca"), roots)
    return grpc.ssl_channel_credentials(roots)
