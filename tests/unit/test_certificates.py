"""certificates.py reads a PEM file's certificates as openssl wrote them: two made by `openssl req -x509` (an
expiry before 2050 is a UTCTime, after it a GeneralizedTime; one subject has no common name)."""

from datetime import UTC, datetime

import pytest

from services.common.certificates import CertificateFacts, certificate_facts, pem_certificates

# openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -set_serial 0x00ff01
#   -subj "/O=Acme/CN=identity"; then -days 30000 -set_serial 7 -subj "/O=No common name"
CHAIN = b"""\
-----BEGIN CERTIFICATE-----
MIIBiDCCAS6gAwIBAgIDAP8BMAoGCCqGSM49BAMCMCIxDTALBgNVBAoMBEFjbWUx
ETAPBgNVBAMMCGlkZW50aXR5MB4XDTI2MTIwNzE4NDQzNVoXDTI3MTIwNzE4NDQz
NVowIjENMAsGA1UECgwEQWNtZTERMA8GA1UEAwwIaWRlbnRpdHkwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAASCvPfWuEnuT23XcggoD/R26JIHkXE53KoNp3v2OPi+
bovW+zR4kgsJG2kKIvFyKBzdxeyu5MYBosGEzUQptCs8o1MwUTAdBgNVHQ4EFgQU
rkEWrg3LObK0Qt5yC+oZB0Yz3pMwHwYDVR0jBBgwFoAUrkEWrg3LObK0Qt5yC+oZ
B0Yz3pMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBsrAIyswXw
TaLO8NIH1NaqtPb3Fvxf9RL73Zf2yPRhOgIhAILUG+UxPP2dz8Rjo7nBYRh/O7o9
ydg5Z/RuVxTHniDG
-----END CERTIFICATE-----
-----BEGIN CERTIFICATE-----
MIIBdjCCARygAwIBAgIBBzAKBggqhkjOPQQDAjAZMRcwFQYDVQQKDA5ObyBjb21t
b24gbmFtZTAgFw0yNjEyMDcxODQ0MzVaGA8yMTA5MDEyNjE4NDQzNVowGTEXMBUG
A1UECgwOTm8gY29tbW9uIG5hbWUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARq
2bDXEzHS09f9HyzYCakTqvNlBnHdAxJ0uWjFQNFdWic8FPcsRdEA+OiNhPHtlUB2
8v17YlYwUzWVUcYxGmdmo1MwUTAdBgNVHQ4EFgQUZlJvXulK6xZ6pD7W/QVPp7DJ
6fEwHwYDVR0jBBgwFoAUZlJvXulK6xZ6pD7W/QVPp7DJ6fEwDwYDVR0TAQH/BAUw
AwEB/zAKBggqhkjOPQQDAgNIADBFAiBFH9g0J7o2WrXr+LwGnfXfiOcMscLzf90D
WB7Gvi3FVQIhAMRz9wC+coQ/ih0TjI6vxCVT00suAnhW2N7+THaNYLhb
-----END CERTIFICATE-----
"""


def test_each_certificate_of_a_chain_gives_its_expiry_common_name_and_serial_as_openssl_reads_them():
    first, second = (certificate_facts(der) for der in pem_certificates(b"junk before\n" + CHAIN + b"\nafter"))
    # openssl x509 -noout -enddate: notAfter=Dec  7 18:44:35 2027 GMT, notAfter=Jan 26 18:44:35 2109 GMT
    assert first == CertificateFacts(datetime(2027, 12, 7, 18, 44, 35, tzinfo=UTC).timestamp(), "identity", "ff01")
    assert second == CertificateFacts(datetime(2109, 1, 26, 18, 44, 35, tzinfo=UTC).timestamp(), "", "7")


@pytest.mark.parametrize("der", [b"", b"\x30\x82\xff\xff", b"\x30\x03\x02\x01\x07", b"\x04\x00" * 8])
def test_bytes_that_are_no_certificate_are_a_value_error(der):
    with pytest.raises(ValueError, match="DER|certificate"):
        certificate_facts(der)


def test_a_file_without_a_certificate_has_none():
    assert pem_certificates(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") == []
