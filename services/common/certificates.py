"""What a PEM file's certificates say about themselves: each one's expiry (notAfter), subject common name and serial
number, read from its DER (RFC 5280 4.1) with the standard library alone: Python's ssl module parses a certificate
only through a connection or a private helper, and no X.509 library is a dependency. Pure: bytes in, facts out."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)
_COMMON_NAME = bytes([0x55, 0x04, 0x03])  # OID 2.5.4.3
_SEQUENCE, _SET, _INTEGER, _OID, _UTC_TIME, _GENERALIZED_TIME, _VERSION = 0x30, 0x31, 0x02, 0x06, 0x17, 0x18, 0xA0


@dataclass(frozen=True)
class CertificateFacts:
    not_after: float  # seconds since the epoch (UTC): the certificate is invalid after it
    subject: str  # the subject's common name, "" when it has none
    serial: str  # the serial number in lower-case hex, without leading zeros


def pem_certificates(pem: bytes) -> list[bytes]:
    """The DER of each certificate of a PEM file, in the file's order (a chain: the leaf first)."""
    return [base64.b64decode(b"".join(block.split())) for block in _PEM.findall(pem)]


def _read(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start, end) of the DER element at `at`: its contents are data[start:end]."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or at + size > len(data):
            raise ValueError("bad DER length")
        length, at = int.from_bytes(data[at:at + size], "big"), at + size
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    while start < end:
        element = _read(data, start)
        found.append(element)
        start = element[2]
    return found


def _time(tag: int, text: bytes) -> float:
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; RFC 5280: YY of 50 or more is 19YY
        when = datetime.strptime(text.decode("ascii"), "%y%m%d%H%M%SZ")
        if when.year >= 2050:
            when = when.replace(year=when.year - 100)
    elif tag == _GENERALIZED_TIME:
        when = datetime.strptime(text.decode("ascii"), "%Y%m%d%H%M%SZ")
    else:
        raise ValueError(f"not a time (DER tag {tag:#x})")
    return when.replace(tzinfo=UTC).timestamp()


def _common_name(data: bytes, start: int, end: int) -> str:
    for _, rdn_start, rdn_end in _children(data, start, end):  # a SET per relative distinguished name
        for _, pair_start, pair_end in _children(data, rdn_start, rdn_end):
            (oid_tag, oid_start, oid_end), (value_tag, value_start, value_end) = _children(data, pair_start,
                                                                                             pair_end)[:2]
            if oid_tag == _OID and data[oid_start:oid_end] == _COMMON_NAME:
                raw = data[value_start:value_end]
                return raw.decode("utf-16-be" if value_tag == 0x1E else "utf-8", errors="replace")
    return ""


def certificate_facts(der: bytes) -> CertificateFacts:
    """The expiry, subject common name and serial of one DER certificate; ValueError when it is not one."""
    try:
        return _facts(der)
    except (ValueError, IndexError) as exc:  # a field missing or of another shape: unpacking fails
        raise ValueError(f"not an X.509 certificate ({exc})") from None


def _facts(der: bytes) -> CertificateFacts:
    tag, start, end = _read(der, 0)
    (tbs_tag, tbs_start, tbs_end), *_ = _children(der, start, end)
    if tag != _SEQUENCE or tbs_tag != _SEQUENCE:
        raise ValueError("no TBSCertificate")
    fields = _children(der, tbs_start, tbs_end)
    if fields[0][0] == _VERSION:
        fields = fields[1:]
    (serial_tag, serial_start, serial_end), _, _, (_, validity_start, validity_end), subject = fields[:5]
    if serial_tag != _INTEGER or subject[0] != _SEQUENCE:
        raise ValueError("no serial number or subject")
    _, (after_tag, after_start, after_end) = _children(der, validity_start, validity_end)[:2]
    not_after = _time(after_tag, der[after_start:after_end])
    serial = format(int.from_bytes(der[serial_start:serial_end], "big"), "x")
    return CertificateFacts(not_after, _common_name(der, subject[1], subject[2]), serial)
