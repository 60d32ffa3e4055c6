"""gRPC over TLS from the settings' PEM files: a server with INFLUENCERS_TLS_CERT/_KEY answers a client that
checks it against INFLUENCERS_TLS_CA, the token travels inside TLS, and a plaintext client gets nothing."""

import logging
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.metrics import families
from services.common.rpc import build_server, open_channel
from services.common.settings import Settings, SettingsError
from services.common.tls import CaRoots, channel_credentials, server_credentials


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made for this test."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def _check(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_a_tls_server_answers_a_client_that_trusts_its_authority_and_not_a_plaintext_one(certificate) -> None:
    cert, key = certificate
    settings = Settings(tls_cert=str(cert), tls_key=str(key), tls_ca=str(cert))
    server = build_server("tls", "127.0.0.1", 0, [], token="s3cret", credentials=server_credentials(settings))
    try:
        with open_channel(f"localhost:{server.port}", "s3cret", channel_credentials(settings)) as channel:
            assert _check(channel) == health_pb2.HealthCheckResponse.SERVING
        with open_channel(f"localhost:{server.port}", "s3cret") as plain, pytest.raises(grpc.RpcError):
            _check(plain)
    finally:
        server.stop(0)


def test_a_client_that_does_not_trust_the_servers_certificate_is_refused(certificate, tmp_path) -> None:
    cert, key = certificate
    server = build_server("tls", "127.0.0.1", 0, [],
                          credentials=server_credentials(Settings(tls_cert=str(cert), tls_key=str(key))))
    try:
        with open_channel(f"localhost:{server.port}", "", grpc.ssl_channel_credentials()) as channel, \
                pytest.raises(grpc.RpcError) as refused:
            _check(channel)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(0)


def test_a_certificate_without_its_key_or_an_unreadable_file_is_a_settings_error_naming_it(tmp_path) -> None:
    with pytest.raises(SettingsError, match="INFLUENCERS_TLS_CERT and INFLUENCERS_TLS_KEY go together"):
        Settings(tls_cert="cert.pem")
    with pytest.raises(SettingsError, match="INFLUENCERS_TLS_KEY='.*k.pem' cannot be read"):
        server_credentials(Settings(tls_cert=str(tmp_path / "missing.pem"), tls_key=str(tmp_path / "k.pem")))



def test_files_that_are_no_pem_certificate_key_or_authority_are_settings_errors_naming_each(certificate,
                                                                                           tmp_path) -> None:
    """Before, gRPC took any bytes: the server then failed at its bind ("cannot bind 127.0.0.1:50053 (in use?
    choose another port)"), and a client's every call as "not answering"."""
    cert, key = certificate
    text = tmp_path / "notes.txt"
    text.write_text("not a certificate\n")
    other_key = tmp_path / "other.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(other_key), "2048"], check=True, capture_output=True)
    with pytest.raises(SettingsError, match="INFLUENCERS_TLS_CERT='.*notes.txt' is not a PEM certificate"):
        server_credentials(Settings(tls_cert=str(text), tls_key=str(key)))
    with pytest.raises(SettingsError, match="INFLUENCERS_TLS_KEY='.*notes.txt' is not the unencrypted PEM private key"):
        server_credentials(Settings(tls_cert=str(cert), tls_key=str(text)))
    with pytest.raises(SettingsError, match="INFLUENCERS_TLS_KEY='.*other.pem' is not the unencrypted PEM private key"):
        server_credentials(Settings(tls_cert=str(cert), tls_key=str(other_key)))
    with pytest.raises(SettingsError, match="INFLUENCERS_TLS_CA='.*notes.txt' holds no PEM certificate"):
        channel_credentials(Settings(tls_ca=str(text)))
    assert server_credentials(Settings(tls_cert=str(cert), tls_key=str(key))) is not None
    assert channel_credentials(Settings(tls_ca=str(cert))) is not None


def _tls_only_server(tmp_path: Path):
    """(key, certificate, server): a TLS-only gRPC server on loopback whose certificate names `identity`."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=identity", "-addext", "subjectAltName=DNS:identity"],
                   check=True, capture_output=True)
    server = build_server("tls", "127.0.0.1", 0, [],
                          credentials=server_credentials(Settings(tls_cert=str(cert), tls_key=str(key))))
    return key, cert, server


def test_the_container_health_check_speaks_tls_to_a_tls_server_expecting_its_certificates_name(
        tmp_path) -> None:
    """With INFLUENCERS_TLS_CERT set the servers speak TLS only: the check connects to 127.0.0.1 over TLS,
    trusts INFLUENCERS_TLS_CA and expects the name the certificate gives (here `identity`, not 127.0.0.1)."""
    from test_liveness import load_healthcheck

    key, cert, server = _tls_only_server(tmp_path)
    healthcheck = load_healthcheck()
    try:
        env = {"INFLUENCERS_TLS_CERT": str(cert), "INFLUENCERS_TLS_CA": str(cert)}
        assert healthcheck.check(server.port, "liveness", environ=env)
        assert not healthcheck.check(server.port, "liveness", environ={}), "plaintext gets nothing"
        assert not healthcheck.check(server.port, "liveness", environ={**env, "INFLUENCERS_TLS_CA": str(key)}), \
            "an authority that did not sign it is refused"
        assert not healthcheck.check(server.port, "liveness", environ={
            **env, "INFLUENCERS_TLS_CA": str(tmp_path / "missing.pem")})
    finally:
        server.stop(0)


def test_the_kubernetes_probes_commands_pass_against_a_tls_server_on_loopback(tmp_path) -> None:
    """Each probe of deploy/k8s, run as written (the image's /opt/healthcheck.py: this checkout's) with the pod's
    port and the TLS settings a pod with TLS on has, passes against a TLS-only server and fails without TLS."""
    root = Path(__file__).resolve().parents[2]
    key, cert, server = _tls_only_server(tmp_path)
    docs = yaml.safe_load_all((root / "deploy" / "k8s" / "identity.yaml").read_text())
    (deployment,) = [doc for doc in docs if doc and doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    pod = {**clean, "INFLUENCERS_IDENTITY_PORT": str(server.port), "INFLUENCERS_TLS_CERT": str(cert),
           "INFLUENCERS_TLS_KEY": str(key), "INFLUENCERS_TLS_CA": str(cert)}
    try:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            python, script, *args = container[probe]["exec"]["command"]
            assert (python, script) == ("python", "/opt/healthcheck.py")
            command = [sys.executable, str(root / "deploy" / "healthcheck.py"), *args]
            ran = subprocess.run(command, env=pod, capture_output=True, text=True, timeout=30)
            assert ran.returncode == 0, (probe, ran.stderr)
            plain = {k: v for k, v in pod.items() if not k.startswith("INFLUENCERS_TLS_")}
            refused = subprocess.run(command, env=plain, capture_output=True, text=True, timeout=30)
            assert refused.returncode == 1 and "health check failed" in refused.stderr, probe
    finally:
        server.stop(0)


def _make_certificate(folder: Path, days: int, name: str = "localhost") -> tuple[Path, Path, str, float]:
    """(certificate, key, serial in lower-case hex, notAfter as seconds since the epoch), made by openssl, the
    serial and expiry as openssl itself reads them back."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", str(days), "-subj", f"/O=Acme/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)
    said = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-serial", "-enddate"], check=True,
                          capture_output=True, text=True).stdout
    fields = dict(line.split("=", 1) for line in said.splitlines())  # serial=4B6C..., notAfter=Jan  6 ... GMT
    return cert, key, format(int(fields["serial"], 16), "x"), float(ssl.cert_time_to_seconds(fields["notAfter"]))


def _expiries() -> dict[tuple[str, str], float]:
    """(subject, serial) -> the expiry the metric says, of INFLUENCERS_TLS_CERT's series."""
    from prometheus_client import REGISTRY

    family = "influencers_tls_certificate_expiration_timestamp_seconds"
    return {(s.labels["subject"], s.labels["serial"]): s.value for metric in REGISTRY.collect() if metric.name == family
            for s in metric.samples if s.labels["setting"] == "INFLUENCERS_TLS_CERT"}


def test_a_renewed_certificate_is_served_from_the_next_connection_and_its_expiry_replaces_the_old_ones(
        tmp_path, caplog) -> None:
    """Before, the files were read once at start: a certificate renewed by cert-manager was not presented until
    a restart, and the old one expired under a running server. Now each new connection's handshake finds the
    files changed, and the metric follows."""
    caplog.set_level(logging.INFO, logger="services.common.tls")
    old_cert, old_key, old_serial, old_expiry = _make_certificate(tmp_path / "old", days=10)
    live_cert, live_key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(old_cert, live_cert)
    shutil.copy(old_key, live_key)
    server = build_server("tls", "127.0.0.1", 0, [],
                          credentials=server_credentials(Settings(tls_cert=str(live_cert), tls_key=str(live_key))))

    def answers_a_client_trusting(cert: Path) -> bool:
        with grpc.secure_channel(f"localhost:{server.port}", grpc.ssl_channel_credentials(cert.read_bytes())) as ch:
            try:
                return _check(ch) == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                return False

    try:
        assert answers_a_client_trusting(old_cert)
        assert _expiries() == {("localhost", old_serial): old_expiry}
        new_cert, new_key, new_serial, new_expiry = _make_certificate(tmp_path / "new", days=90)
        assert not answers_a_client_trusting(new_cert)
        for made, live in ((new_key, live_key), (new_cert, live_cert)):  # as a Secret volume swaps its files
            shutil.copy(made, tmp_path / "swap.pem")
            os.replace(tmp_path / "swap.pem", live)
        assert answers_a_client_trusting(new_cert)
        assert not answers_a_client_trusting(old_cert)
        assert _expiries() == {("localhost", new_serial): new_expiry}, "the old certificate's series is gone"
        assert any("TLS certificate reloaded from" in r.getMessage() for r in caplog.records)
        live_cert.write_text("half written\n")  # a broken file: refused, said once, the last good pair served
        assert answers_a_client_trusting(new_cert) and answers_a_client_trusting(new_cert)
        refused = [r for r in caplog.records if "TLS certificate not reloaded" in r.getMessage()]
        assert len(refused) == 1 and "INFLUENCERS_TLS_CERT=" in refused[0].getMessage()
        assert _expiries() == {("localhost", new_serial): new_expiry}
    finally:
        server.stop(0)


def _make_signed(folder: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 signed by the authority `ca` (its certificate and key)."""
    folder.mkdir(parents=True, exist_ok=True)
    key, csr, cert, ext = folder / "key.pem", folder / "req.csr", folder / "cert.pem", folder / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
                    "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(ext)], check=True,
                   capture_output=True)
    return cert, key


def _ca_expiries() -> dict[tuple[str, str], float]:
    """(subject, serial) -> the expiry the metric says, of INFLUENCERS_TLS_CA's series (read from the gauge itself:
    a test run alone registers no service)."""
    return {(s.labels["subject"], s.labels["serial"]): s.value for metric in families().tls_expiry.collect()
            for s in metric.samples if s.labels["setting"] == "INFLUENCERS_TLS_CA"}


def test_a_rotated_ca_file_is_trusted_by_a_running_client_from_its_next_call_without_a_restart(tmp_path, caplog):
    """Before, a client read INFLUENCERS_TLS_CA once, when its channel was made: servers moved to a certificate of a
    new authority (a CA rotated by cert-manager) were refused as UNAVAILABLE by every running client until it was
    restarted. Now the channel follows the file: the next call after it changed trusts the new authority."""
    caplog.set_level(logging.INFO, logger="services.common.tls")
    old_ca, new_ca = (_make_certificate(tmp_path / name, days=days, name=f"{name}-ca")
                      for name, days in (("old", 30), ("new", 300)))
    cert, key = _make_signed(tmp_path / "server", new_ca[:2])  # the servers already present the new CA's
    live_ca = tmp_path / "ca.pem"
    shutil.copy(old_ca[0], live_ca)
    server = build_server("tls", "127.0.0.1", 0, [],
                          credentials=server_credentials(Settings(tls_cert=str(cert), tls_key=str(key))))
    try:
        with open_channel(f"localhost:{server.port}", "", channel_credentials(Settings(tls_ca=str(live_ca)))) as ch:
            with pytest.raises(grpc.RpcError) as refused:
                _check(ch)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert _ca_expiries() == {("old-ca", old_ca[2]): old_ca[3]}
            shutil.copy(new_ca[0], tmp_path / "swap.pem")
            os.replace(tmp_path / "swap.pem", live_ca)  # as a Secret volume swaps its files
            time.sleep(CaRoots.CHECK_EVERY_S)
            assert _check(ch) == health_pb2.HealthCheckResponse.SERVING
            assert _ca_expiries() == {("new-ca", new_ca[2]): new_ca[3]}, "the old authority's series is gone"
            live_ca.write_text("half written\n")  # not taken: said once, the authorities read before still trusted
            time.sleep(CaRoots.CHECK_EVERY_S)
            assert _check(ch) == health_pb2.HealthCheckResponse.SERVING
            time.sleep(CaRoots.CHECK_EVERY_S)
            assert _check(ch) == health_pb2.HealthCheckResponse.SERVING
        refused_logs = [r for r in caplog.records if "TLS authorities not reloaded" in r.getMessage()]
        assert len(refused_logs) == 1 and "INFLUENCERS_TLS_CA=" in refused_logs[0].getMessage()
    finally:
        server.stop(0)


def test_a_ca_file_of_many_authorities_has_one_expiry_series_its_earliest_unexpired(tmp_path):
    """A system bundle (~150 roots) as INFLUENCERS_TLS_CA gave each root a series of its own (and each expired root,
    which verification ignores, a firing alert): now the file has one, the authority of it that expires first of those
    not expired yet."""
    made = [_make_certificate(tmp_path / f"ca{k}", days=days, name=f"ca{k}") for k, days in enumerate((300, 20, 90))]
    expired = tmp_path / "expired"
    expired.mkdir()
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(expired / "key.pem"),
                    "-out", str(expired / "req.csr"), "-subj", "/CN=expired-ca"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(expired / "req.csr"), "-signkey", str(expired / "key.pem"),
                    "-days", "-1", "-out", str(expired / "cert.pem")], check=True, capture_output=True)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes((expired / "cert.pem").read_bytes() + b"".join(m[0].read_bytes() for m in made))
    channel_credentials(Settings(tls_ca=str(bundle)))
    assert _ca_expiries() == {("ca1", made[1][2]): made[1][3]}, "the earliest of those not expired yet"
    bundle.write_bytes((expired / "cert.pem").read_bytes())
    channel_credentials(Settings(tls_ca=str(bundle)))
    assert [subject for subject, _ in _ca_expiries()] == ["expired-ca"], "all expired: the alert fires on one"
