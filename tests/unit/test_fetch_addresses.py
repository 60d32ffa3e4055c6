"""Which addresses a download may connect to: only globally routable ones, decided after one resolution
(resolvers injected here; nothing connects)."""

import ipaddress
from pathlib import Path

import pytest

from services.ingest.fetch import FetchError, FetchPolicy, fetch
from services.ingest.netguard import Refused, address_refusal, is_public_address, parse_url, resolve_checked

INTERNAL = [
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "100.127.255.254",  # CGNAT (shared address space)
    "0.0.0.0", "0.1.2.3", "192.0.0.8", "192.0.0.170", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.88.99.1",
    "::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:100.64.0.1", "::127.0.0.1",
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1",  # NAT64 to internal IPv4; local-use NAT64
    "2002:7f00:1::1", "2002:a00:1::1",  # 6to4 of internal IPv4
    "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "2001:db8::1", "2001::1", "100::1", "3fff::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "2a00:1450:4001:81c::200e",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", INTERNAL)
def test_an_address_that_is_not_globally_routable_is_internal(address):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_a_globally_routable_address_is_public(address):
    assert is_public_address(ipaddress.ip_address(address))


class Resolver:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, host, port):
        self.calls.append((host, port))
        return self.answers


@pytest.mark.parametrize("answers", [["100.64.0.1"], ["8.8.8.8", "10.0.0.1"], ["2606:4700::1", "fd00::1"],
                                     ["::ffff:127.0.0.1"], ["64:ff9b::a9fe:a9fe"]])
def test_a_name_with_any_internal_address_is_refused(answers):
    with pytest.raises(Refused, match=r"^refused: .* address .*(an internal address|never fetched)"):
        resolve_checked(parse_url("https://cdn.example.com/a.mp4"), False, Resolver(*answers))


def test_the_addresses_returned_are_exactly_the_checked_ones_from_one_resolution():
    resolver = Resolver("8.8.8.8", "2606:4700::1", "8.8.8.8")
    got = resolve_checked(parse_url("https://cdn.example.com:8443/a.mp4"), False, resolver)
    assert got == [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("2606:4700::1")]
    assert resolver.calls == [("cdn.example.com", 8443)]


def test_an_ip_literal_is_checked_without_resolving():
    resolver = Resolver("8.8.8.8")
    with pytest.raises(Refused, match=r"refused: loopback address 127\.0\.0\.1 "):
        resolve_checked(parse_url("http://[::ffff:127.0.0.1]/"), False, resolver)
    assert resolver.calls == []


def test_a_unicode_host_is_resolved_and_checked_as_its_ascii_form():
    resolver = Resolver("10.0.0.1")
    with pytest.raises(Refused, match=r"^refused: private address 10\.0\.0\.1 "):
        resolve_checked(parse_url("https://bücher.example/v.mp4"), False, resolver)
    assert resolver.calls == [("xn--bcher-kva.example", 443)]
    public = Resolver("8.8.8.8")
    got = resolve_checked(parse_url("https://bücher.example/v.mp4"), False, public)
    assert got == [ipaddress.ip_address("8.8.8.8")]
    assert public.calls == [("xn--bcher-kva.example", 443)]


def test_a_mapped_address_is_connected_to_as_the_ipv4_it_stands_for_when_private_urls_are_allowed():
    assert resolve_checked(parse_url("http://[::ffff:127.0.0.1]/"), True) == [ipaddress.ip_address("127.0.0.1")]


@pytest.mark.parametrize("answers,reason", [([], "cannot resolve host"), (["not-an-ip"], "malformed address")])
def test_an_empty_or_malformed_resolution_is_refused(answers, reason):
    with pytest.raises(Refused, match=reason):
        resolve_checked(parse_url("http://cdn.example.com/"), False, Resolver(*answers))


def test_allowing_private_urls_lets_internal_addresses_through():
    got = resolve_checked(parse_url("http://cdn.example.com/"), True, Resolver("100.64.0.1"))
    assert got == [ipaddress.ip_address("100.64.0.1")]


@pytest.mark.parametrize("answer", ["100.64.0.1", "0.0.0.0", "fd00::1"])
def test_fetch_refuses_a_name_resolving_inside_before_connecting(answer):
    policy = FetchPolicy(max_bytes=1000, timeout_s=1, resolver=Resolver(answer))
    expected = f"^http://cdn.example.com/a.mp4: refused: .*address {answer} \\(an internal address"
    with pytest.raises(FetchError, match=expected):
        fetch("http://cdn.example.com/a.mp4", Path("."), policy)


def test_a_resolver_that_hangs_is_cut_off_by_the_deadline():
    import threading
    import time

    release = threading.Event()

    def hanging(host, port):
        release.wait(5)
        return ["10.0.0.1"]

    t0 = time.monotonic()
    with pytest.raises(FetchError, match=r"no answer within 0.3 s \(timed out\)"):
        fetch("http://cdn.example.com/a.mp4", Path("."), FetchPolicy(1000, 0.3, resolver=hanging))
    assert time.monotonic() - t0 < 1
    release.set()


NEVER = ["169.254.169.254", "169.254.170.2", "169.254.0.1", "169.254.255.255", "fd00:ec2::254", "100.100.100.200",
         "168.63.129.16", "fe80::1", "febf:ffff::1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
         "2002:a9fe:a9fe::1",
         # Other IPv6 forms carrying the metadata address (was: passed when private URLs are allowed): compatible
         # ::a.b.c.d, SIIT-translated, NAT64's local-use prefix (RFC 8215) and a Teredo client (its IPv4 inverted).
         "::a9fe:a9fe", "::ffff:0:a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "2001:0:4136:e378:8000:63bf:5601:5601"]


@pytest.mark.parametrize("address", NEVER)
def test_metadata_and_link_local_addresses_are_refused_even_when_private_urls_are_allowed(address):
    why = address_refusal(ipaddress.ip_address(address), allow_private=True)
    assert why is not None and why.startswith("refused: ") and "never fetched" in why


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.1.1", "100.64.0.1", "fd12::1", "::1",
                                     "64:ff9b:1::a00:1", "::ffff:0:a00:1"])
def test_other_internal_addresses_pass_only_when_private_urls_are_allowed(address):
    ip = ipaddress.ip_address(address)
    assert address_refusal(ip, allow_private=True) is None
    assert "INFLUENCERS_ALLOW_PRIVATE_URLS=1" in (address_refusal(ip, allow_private=False) or "")


def test_a_name_resolving_to_the_metadata_address_is_refused_even_when_private_urls_are_allowed():
    resolver = Resolver("10.0.0.5", "169.254.169.254")
    with pytest.raises(Refused, match=r"^refused: cloud metadata address 169\.254\.169\.254 \(never fetched"):
        resolve_checked(parse_url("http://lab-cdn.internal/a.mp4"), True, resolver)


@pytest.mark.parametrize("url", ["http://[fd00:ec2::254]/latest/meta-data/", "http://100.100.100.200/latest/"])
def test_fetch_refuses_a_metadata_literal_with_private_urls_allowed_before_connecting(url):
    policy = FetchPolicy(max_bytes=1000, timeout_s=1, allow_private=True, resolver=Resolver())
    with pytest.raises(FetchError, match=r"refused: cloud metadata address"):
        fetch(url, Path("."), policy)


@pytest.mark.parametrize("url", ["http://[::1]/a.mp4", "http://[::1]:8080/a.mp4", "http://::1/a.mp4"])
def test_an_ipv6_loopback_host_is_refused_as_a_loopback_address(url):
    with pytest.raises(Refused, match=r"^refused: loopback address ::1 "):
        resolve_checked(parse_url(url), False, Resolver())


def test_an_unbracketed_public_ipv6_host_asks_for_brackets():
    with pytest.raises(Refused, match=r"IPv6 address 2606:4700::1 without brackets in URL \(write \[2606:4700::1\]\)"):
        parse_url("http://2606:4700::1/a.mp4")


def test_public_addresses_pass_whatever_the_private_setting():
    for allow in (False, True):
        assert address_refusal(ipaddress.ip_address("8.8.8.8"), allow) is None
        assert address_refusal(ipaddress.ip_address("2606:4700:4700::1111"), allow) is None
