"""TLS for gRPC from the settings' PEM files: servers present INFLUENCERS_TLS_CERT/_KEY, clients check the
server against INFLUENCERS_TLS_CA (the system's authorities when only a certificate is set). Without any of
them, every channel is plaintext (loopback, or a mesh that encrypts for us). The report page has no TLS of
its own (waitress): put it behind the ingress or proxy that terminates TLS.

A server reads its certificate and key again when either file changes (a renewal by cert-manager, a Secret
rotated): gRPC asks for them at each new connection's handshake, and a look at both files' stat answers whether
they moved. A client reads its CA file again when it changes (CaRoots, services/common/reloading_channel.py). Each
certificate's expiry is a metric (influencers_tls_certificate_expiration_timestamp_seconds; of the CA file, its
earliest)."""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
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


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | CaRoots | None:
    """What a client checks servers with when TLS is on: the authorities of the CA file, read again when it changes
    (CaRoots: rpc.open_channel makes a channel that follows them), or the system's; None (plaintext)."""
    if not (settings.tls_ca or settings.tls_cert):
        return None
    if not settings.tls_ca:
        return grpc.ssl_channel_credentials(None)
    stamp = _stamp(settings.tls_ca)
    roots = _read_roots(settings.tls_ca)
    record_certificates(env_name("tls_ca"), roots, earliest_only=True)
    return CaRoots(settings.tls_ca, roots, stamp)


def _read_roots(path: str) -> bytes:
    """The CA file's bytes; SettingsError naming the variable when they hold no PEM certificate: gRPC would take any
    bytes, and every call would then fail as "not answering"."""
    roots = _read("tls_ca", path)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise SettingsError(f"{env_name('tls_ca')}={path!r} holds no PEM certificate ({exc})") from None
    return roots


class CaRoots:
    """The channel credentials of a CA file, read again when the file changed (looked at once a second at most, at a
    call): a CA rotated is trusted from the next call, as a server's renewed certificate is presented from its next
    connection (was: from the client's restart). Contents that are no PEM certificate (a file half written) are logged
    once and not taken; the authorities read before are trusted meanwhile. Servers read no CA: they ask no client
    for a certificate."""

    CHECK_EVERY_S = 1.0

    def __init__(self, path: str, roots: bytes, stamp: tuple[tuple[int, int, int], ...] | None) -> None:
        self._path, self._stamp = path, stamp
        self._credentials, self._generation = grpc.ssl_channel_credentials(roots), 0
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> tuple[grpc.ChannelCredentials, int]:
        """(the credentials of the file's authorities now, a number that changes with them)."""
        if time.monotonic() - self._checked < self.CHECK_EVERY_S:
            return self._credentials, self._generation
        with self._lock:
            self._checked = time.monotonic()
            stamp = _stamp(self._path)
            if stamp is None or stamp == self._stamp:
                return self._credentials, self._generation
            try:
                roots = _read_roots(self._path)
            except SettingsError as exc:
                self._stamp = stamp  # said once per change of the file, not at every call
                log.warning("TLS authorities not reloaded: %s (the ones loaded before are still trusted)", exc)
                return self._credentials, self._generation
            if _stamp(self._path) != stamp:  # changed while it was read: read again at the next look
                return self._credentials, self._generation
            self._stamp = stamp
            self._credentials, self._generation = grpc.ssl_channel_credentials(roots), self._generation + 1
        record_certificates(env_name("tls_ca"), roots, earliest_only=True)
        log.info("TLS authorities reloaded from %s: %d certificates", self._path, len(pem_certificates(roots)))
        return self._credentials, self._generation
