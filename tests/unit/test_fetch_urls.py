"""The one URL parser that both the address check and the request use: odd spellings are refused or read
exactly as the connection will use them."""

import ipaddress
import re

import pytest

from services.common.url_secrets import (
    links_hidden,
    secrets_digested,
    secrets_hidden,
    secrets_keyed,
    userinfo_hidden,
)
from services.ingest.fetch import FetchError, FetchPolicy, fetch
from services.ingest.netguard import Refused, Target, has_scheme, join_url, parse_url


@pytest.mark.parametrize("url,reason", [
    ("http://127.0.0.1@evil.example/", "user name or password"),
    ("http://evil.example@127.0.0.1/", "user name or password"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://evil.example\\@127.0.0.1/", "backslash"),
    ("http:\\\\127.0.0.1\\a.mp4", "backslash"),
    ("http://2130706433/", "ambiguous numeric host"),
    ("http://0x7f.1/", "ambiguous numeric host"),
    ("http://0x7f000001/", "ambiguous numeric host"),
    ("http://0177.0.0.1/", "ambiguous numeric host"),
    ("http://127.1/", "ambiguous numeric host"),
    ("http://127.0.0.01/", "ambiguous numeric host"),
    ("http://1.2.3.4.5/", "ambiguous numeric host"),
    ("http://256.0.0.1/", "ambiguous numeric host"),
    ("http://%31%32%37.0.0.1/", "percent-encoded host"),
    ("http://ex%61mple.com/", "percent-encoded host"),
    ("http://１２７.０.０.１/", "spells the IP address 127.0.0.1 in other characters than ASCII"),
    ("http://example.com /a", "whitespace or control character"),
    (" http://example.com/", "whitespace or control character"),
    ("http://exa\tmple.com/", "whitespace or control character"),
    ("http://example.com/\r\nX-Injected: 1", "whitespace or control character"),
    ("http://example.com\x00.evil/", "whitespace or control character"),
    ("http://example.com:0/", "bad port"),
    ("http://example.com:65536/", "bad port"),
    ("http://example.com:99999999999/", "bad port"),
    ("http://example.com:-1/", "bad port"),
    ("http://example.com:/", "bad port"),
    ("http://example.com:８０/", "bad port"),
    ("http:///a.mp4", "no host"),
    ("http://:80/a.mp4", "no host"),
    ("http:example.com/a.mp4", "no host"),
    ("https:/example.com/a.mp4", r"no host in URL \(one slash after 'https:': write https://HOST/\.\.\.\)"),
    ("http://[::1/", "unclosed \\["),
    ("http://[::1]x/", "malformed URL host"),
    ("http://[fe80::1%25eth0]/", "zone id"),
    ("http://[not-v6]/", "malformed IPv6"),
    ("http://example..com/", "malformed host name"),
    ("http://example.com../", "malformed host name"),
    ("http://-example.com/", "malformed host name"),
    ("http://exa<mple.com/", "malformed host name"),
    ("ftp://example.com/a.mp4", "unsupported URL scheme 'ftp'"),
])
def test_odd_spellings_are_refused_with_a_reason(url, reason):
    with pytest.raises(Refused, match=reason):
        parse_url(url)


@pytest.mark.parametrize("url,host,ip", [
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "::ffff:7f00:1"),
    ("http://[::1]:8080/", "::1", "::1"),
    ("http://127.0.0.1./", "127.0.0.1", "127.0.0.1"),
    ("http://0.0.0.0/", "0.0.0.0", "0.0.0.0"),
    ("HTTPS://Video.EXAMPLE.com./a", "video.example.com", None),
    ("http://cdn_1.example.com/", "cdn_1.example.com", None),
])
def test_the_host_checked_is_the_host_connected_to(url, host, ip):
    target = parse_url(url)
    assert target.host == host
    assert target.ip == (ipaddress.ip_address(ip) if ip else None)


@pytest.mark.parametrize("url,host", [
    ("https://bücher.example/v.mp4", "xn--bcher-kva.example"),
    ("https://BÜCHER.Example./v.mp4", "xn--bcher-kva.example"),  # case folded, the root's dot dropped
    ("https://bücher。example/v.mp4", "xn--bcher-kva.example"),  # an ideographic full stop separates labels
    ("https://faß.de/v.mp4", "xn--fa-hia.de"),  # IDNA 2008 keeps ß (IDNA 2003 made it fass.de, another name)
    ("https://ドメイン.テスト/v.mp4", "xn--eckwd4c7c.xn--zckzah"),
    ("http://exämple.com:8080/", "xn--exmple-cua.com"),
])
def test_a_unicode_host_is_fetched_as_its_idna_2008_ascii_form(url, host):
    # Before: refused, "non-ASCII host 'bücher.example' (use its punycode xn-- form)".
    target = parse_url(url)
    assert target.host == host and target.ip is None
    assert target.host_header.split(":")[0] == host, "the Host header and TLS name are the ASCII form"


@pytest.mark.parametrize("url,reason", [
    ("https://☃.example/", "host '☃.example' is not a valid internationalised domain name: Codepoint U\\+2603"),
    ("https://💩.la/", "host '💩.la' is not a valid internationalised domain name"),
    ("https://bü--cher.example/", "host 'bü--cher.example' is not .*hyphens in 3rd and 4th position"),
    ("https://aא.example/", "host 'aא.example' is not .*direction"),  # right-to-left in a left-to-right label
    ("https://exämple.com／evil.example/", "host 'exämple.com／evil.example' is not .*U\\+FF0F"),  # no slash
    ("https://exämple..com/", "host 'exämple..com' is not .*Empty Label"),
    ("https://" + "ü" * 64 + ".com/", "is not a valid internationalised domain name: Label too long"),
    ("https://bücher.123/", "ambiguous numeric host"),  # the rules of an ASCII name hold for the converted one
])
def test_a_unicode_host_that_idna_refuses_is_refused_naming_the_host(url, reason):
    with pytest.raises(Refused, match=reason):
        parse_url(url)


def test_a_unicode_host_written_in_look_alike_letters_is_logged_with_its_punycode(caplog):
    with caplog.at_level("INFO", logger="services.ingest.netguard"):
        assert parse_url("https://аррӏе.com/v.mp4").host == "xn--80ak6aa92e.com"  # Cyrillic alone
        assert parse_url("https://bücher.example/v.mp4").host == "xn--bcher-kva.example"
        assert parse_url("https://ドメイン.テスト/v.mp4").host == "xn--eckwd4c7c.xn--zckzah"
        assert parse_url("https://東京コーヒーshop.jp/v.mp4").host.startswith("xn--")  # Han, Katakana, Latin: one word
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["host 'аррӏе.com' passes for 'apple.com': fetched as xn--80ak6aa92e.com"]
    assert "host 'bücher.example' is fetched as xn--bcher-kva.example" in caplog.text


def test_port_path_and_query_are_kept_and_the_fragment_dropped():
    assert parse_url("https://example.com/my clip.mp4?t=a b").request_target == "/my%20clip.mp4?t=a%20b", \
        "a blank in the path, as exports often have, is sent as a browser sends it"
    target = parse_url("https://example.com:8443/a b%20/ü.mp4?x=1&y=é#frag".replace(" ", "%20"))
    assert (target.scheme, target.port) == ("https", 8443)
    assert target.request_target == "/a%20b%20/%C3%BC.mp4?x=1&y=%C3%A9"
    assert target.host_header == "example.com:8443"


def test_the_host_header_omits_a_default_port_and_brackets_ipv6():
    assert parse_url("http://example.com:80").host_header == "example.com"
    assert parse_url("https://[2001:db8::1]:443/").host_header == "[2001:db8::1]"
    assert parse_url("http://[2001:db8::1]:81/").host_header == "[2001:db8::1]:81"



@pytest.mark.parametrize("url,host", [
    ("https://xn--bcher-kva.example/v.mp4", "xn--bcher-kva.example"),
    ("https://XN--BCHER-KVA.Example./v.mp4", "xn--bcher-kva.example"),  # any case, the root's dot dropped
    ("https://xn--fa-hia.de/v.mp4", "xn--fa-hia.de"),
    ("https://cdn_1.xn--bcher-kva.example/v.mp4", "cdn_1.xn--bcher-kva.example"),  # other labels as before
    ("https://axn--b.example/v.mp4", "axn--b.example"),  # no A-label: `xn--` starts none of its labels
])
def test_a_host_of_xn_labels_is_fetched_as_written_once_the_unicode_name_they_spell_passes(url, host):
    assert parse_url(url).host == host


@pytest.mark.parametrize("url,reason", [
    # Before: every one fetched, `xn--` labels passing the ASCII rules unread.
    ("https://xn--n3h.example/", "host 'xn--n3h.example' is not a valid internationalised domain name: Codepoint "
     "U\\+2603"),  # a snowman, refused as `☃.example` is
    ("https://xn--ls8h.la/", "host 'xn--ls8h.la' is not a valid internationalised domain name: Codepoint U\\+1F4A9"),
    ("https://xn--abc.example/", "host 'xn--abc.example' is not a valid .*U\\+0082"),  # Punycode of control codes
    ("https://xn--zz-zzzzzzzz.example/", "host 'xn--zz-zzzzzzzz.example' is not .*Invalid A-label"),
    ("https://a.xn--.example/", "host 'a.xn--.example' is not .*no Punycode"),
    ("https://xn--abc-.example/", "host 'xn--abc-.example' is not .*must not end with a hyphen"),  # ASCII in disguise
    ("https://xn--a-ecp.example/", "host 'xn--a-ecp.example' is not .*U\\+2488"),  # `a⒈`: a dot in disguise
    ("https://bücher.xn--n3h/", "host 'bücher.xn--n3h' is not .*U\\+2603"),  # beside a Unicode label too
    ("https://xn--bcher-kva.123/", "ambiguous numeric host"),  # the rules of an ASCII name hold after the decoding
])
def test_a_host_of_xn_labels_idna_refuses_is_refused_naming_the_host(url, reason):
    with pytest.raises(Refused, match=reason):
        parse_url(url)


def test_a_host_of_xn_labels_spelling_look_alike_letters_is_logged_as_the_unicode_one_is(caplog):
    with caplog.at_level("INFO", logger="services.ingest.netguard"):
        assert parse_url("https://xn--80ak6aa92e.com/v.mp4").host == "xn--80ak6aa92e.com"  # аррӏе, Cyrillic alone
        assert parse_url("https://xn--bcher-kva.example/v.mp4").host == "xn--bcher-kva.example"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["host 'аррӏе.com' passes for 'apple.com': fetched as xn--80ak6aa92e.com"]
    assert "host 'bücher.example' is fetched as xn--bcher-kva.example" in caplog.text


@pytest.mark.parametrize("url,reason", [
    ("https://" + "xn--bcher-kva." * 20_000 + "com/", "not a valid internationalised domain name: 280003 characters"),
    ("https://" + "bücher." * 20_000 + "com/", "is not a valid internationalised domain name: 140003 characters"),
    ("https://" + "a." * 50_000 + "com/", "malformed host name 'a.a.a."),
    ("http://" + "1." * 50_000 + "1/", "ambiguous numeric host '1.1.1."),
    ("http://cdn.example:" + "9" * 50_000 + "/", "bad port '9999"),
    ("http://[" + "f" * 50_000 + "]/", "malformed IPv6 address 'ffff"),
    ("http://a%" + "x" * 50_000 + "/", "percent-encoded host 'a%xx"),
    ("x" * 50_000 + "://cdn.example/", "unsupported URL scheme 'xxxx"),
])
def test_a_host_port_or_scheme_of_thousands_of_characters_is_refused_in_a_short_line(url, reason):
    # Before: the whole of it in the row's error (100 kB in videos.csv), and 20,000 `xn--` labels decoded (3 s).
    with pytest.raises(Refused, match=re.escape(reason)) as err:
        parse_url(url)
    assert len(str(err.value)) < 200

@pytest.mark.parametrize("url,request_target", [
    ("https://cdn.example/a/b/../c.mp4", "/a/c.mp4"),
    ("https://cdn.example/a/./b/c.mp4?next=../x", "/a/b/c.mp4?next=../x"),  # the query is no path
    ("https://cdn.example/../../c.mp4", "/c.mp4"),  # no folder above the root
    ("https://cdn.example/a/b/..", "/a/"),
    ("https://cdn.example/a//b/../c.mp4", "/a//c.mp4"),  # an empty segment is a segment
    # A dot escaped as %2e is a dot, as browsers read it (was sent as a name: `/a/%2e%2e/c.mp4`).
    ("https://cdn.example/a/%2e%2e/c.mp4", "/c.mp4"),
    ("https://cdn.example/a/b/.%2E/%2E./c.mp4", "/c.mp4"),
    ("https://cdn.example/a/%2e/c.mp4", "/a/c.mp4"),
    ("https://cdn.example/a/b/%2e%2e", "/a/"),
    ("https://cdn.example/%2e%2e/%2e%2e/c.mp4", "/c.mp4"),
    # Not a dot segment: more than two dots, a dot beside other letters, an escaped slash inside the segment.
    ("https://cdn.example/a/%2e%2e%2e/c.mp4", "/a/%2e%2e%2e/c.mp4"),
    ("https://cdn.example/a/%2e%2ex/c.mp4", "/a/%2e%2ex/c.mp4"),
    ("https://cdn.example/a/%2e%2e%2fc.mp4", "/a/%2e%2e%2fc.mp4"),
])
def test_dot_segments_of_a_path_are_resolved_as_browsers_and_curl_send_them(url, request_target):
    assert parse_url(url).request_target == request_target
    assert parse_url(join_url(parse_url("https://cdn.example/v/day/clip"), "../../w/a.mp4")).request_target == \
        "/w/a.mp4"


def test_a_redirect_to_escaped_dot_segments_is_joined_as_a_browser_joins_it():
    base = parse_url("https://cdn.example/v/day/clip")
    assert parse_url(join_url(base, "%2e%2e/%2E%2E/w/a.mp4")).request_target == "/w/a.mp4"
    assert parse_url(join_url(base, "/x/%2e%2e/a.mp4")).request_target == "/a.mp4"


def test_a_url_without_path_requests_the_root():
    assert parse_url("http://example.com?q=1").request_target == "/?q=1"


@pytest.mark.parametrize("url,scheme", [
    ("http://x", "http"), ("HTTPS://x", "https"), ("file:///a", "file"), ("C:\\videos\\a.mp4", None),
    ("videos/a.mp4", None), ("gopher://x", "gopher"),
])
def test_the_scheme_is_read_once_and_a_drive_letter_is_not_one(url, scheme):
    assert has_scheme(url) == scheme


BASE = Target("https", "cdn.example.com", 8443, "/videos/a.mp4?sig=1")


@pytest.mark.parametrize("location,joined", [
    ("http://other.example/b.mp4", "http://other.example/b.mp4"),
    ("//other.example/b.mp4", "https://other.example/b.mp4"),
    ("/b.mp4", "https://cdn.example.com:8443/b.mp4"),
    ("b.mp4", "https://cdn.example.com:8443/videos/b.mp4"),
    ("?sig=2", "https://cdn.example.com:8443/videos/a.mp4?sig=2"),
    ("file:///etc/passwd", "file:///etc/passwd"),
    # A scheme without the authority's `//`, as browsers read it (was followed as written: `no host in URL`). Of the
    # base's own scheme, relative to it (RFC 3986 5.2.2's reading for compatibility); of the other, `//` missing.
    ("https:b.mp4", "https://cdn.example.com:8443/videos/b.mp4"),
    ("HTTPS:b.mp4?sig=2", "https://cdn.example.com:8443/videos/b.mp4?sig=2"),
    ("https:/b.mp4", "https://cdn.example.com:8443/b.mp4"),
    ("https:?sig=2", "https://cdn.example.com:8443/videos/a.mp4?sig=2"),
    ("https:../b.mp4", "https://cdn.example.com:8443/videos/../b.mp4"),  # parse_url resolves the dots
    ("http:other.example/b.mp4", "http://other.example/b.mp4"),
    ("http:/other.example/b.mp4", "http://other.example/b.mp4"),
    # Extra slashes before a host, as browsers and curl drop them (was: `no host in URL`).
    ("https:///other.example/b.mp4", "https://other.example/b.mp4"),
    ("http:////other.example/b.mp4", "http://other.example/b.mp4"),
    ("///other.example/b.mp4", "https://other.example/b.mp4"),
    ("data:video/mp4;base64,AAAA", "data:video/mp4;base64,AAAA"),  # another scheme: refused by the fetch
])
def test_a_redirect_location_is_joined_to_the_url_it_came_from(location, joined):
    assert join_url(BASE, location) == joined


@pytest.mark.parametrize(("url", "shown"), [
    ("https://alice:hunter2@cdn.example.com/v.mp4", "https://***@cdn.example.com/v.mp4"),
    ("https://ghp_token@cdn.example.com/v.mp4?x=1", "https://***@cdn.example.com/v.mp4?x=1"),  # a token as user
    ("HTTP://a:b@c@host:8080/p@q", "HTTP://***@host:8080/p@q"),  # to the last @ of the authority alone
    ("ftp://bob:pw@example.com/x.mp4", "ftp://***@example.com/x.mp4"),
    ("file://carol:pw@localhost/tmp/x.mp4", "file://***@localhost/tmp/x.mp4"),
    ("http://evil\\a:pw@127.0.0.1/", "http://***@127.0.0.1/"),  # a backslash ends no authority for this
    ("https://cdn.example.com/a@b.mp4", "https://cdn.example.com/a@b.mp4"),
    ("https://cdn.example.com?mail=a@b", "https://cdn.example.com?mail=a@b"),
    ("videos/me@home.mp4", "videos/me@home.mp4"),
    ("", ""),
    # A link copied without its scheme, read as a local path: was kept, logged and shown with its password.
    ("//ann:hunter2@cdn.example.com/v.mp4", "//***@cdn.example.com/v.mp4"),
    ("//ghp_token@cdn/v.mp4?x=1", "//***@cdn/v.mp4?x=1"),
    ("//ann:pa/ss@cdn/v.mp4", "//***@cdn/v.mp4"),
    ("//server/share/me@home.mp4", "//server/share/me@home.mp4"),  # a `@` after the first folder: a name
    ("/ann:pw@cdn/v.mp4", "/ann:pw@cdn/v.mp4"),  # one slash: a path
    # Where browsers find them after an http(s) scheme: past any run of `/` and `\`, or none (refused here, but was
    # shown and kept whole). Another scheme's authority needs its `//`.
    ("https:/ann:pw@cdn/v.mp4", "https:/***@cdn/v.mp4"),
    ("https:\\ann:pw@cdn\\v.mp4", "https:\\***@cdn\\v.mp4"),
    ("http:ann:pw@cdn/v.mp4", "http:***@cdn/v.mp4"),
    ("mailto:ann@example.com", "mailto:ann@example.com"),
])
def test_a_user_name_or_password_in_a_url_is_hidden_whatever_the_scheme(url, shown):
    assert userinfo_hidden(url) == shown


@pytest.mark.parametrize(("url", "reason"), [
    ("https:/ann:hunter2@cdn.example.com/v.mp4?code=hunter2", "no host in URL (one slash after 'https:'"),
    ("https:\\ann:hunter2@cdn.example.com\\v.mp4", "backslash in URL"),
    ("https:/cdn.example.com/token=hunter2/v.mp4", "no host in URL (one slash after 'https:'"),
    ("//ann:hunter2@cdn.example.com/v.mp4", "a link without its scheme is not fetched: write it whole"),
    ("//cdn.example.com/token=hunter2/v.mp4?sig=hunter2", "a link without its scheme is not fetched"),
])
def test_a_password_or_token_in_a_link_refused_for_its_slashes_is_not_in_the_error(url, reason, tmp_path):
    # Was: `https:/ann:hunter2@cdn.example.com/v.mp4?code=hunter2: no host in URL ...`, the password and the OAuth
    # code in the row's error, videos.csv, the page and the log.
    with pytest.raises(FetchError) as err:
        fetch(url, tmp_path, FetchPolicy(max_bytes=1000, timeout_s=1))
    assert reason in str(err.value) and "hunter2" not in str(err.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://b.s3.amazonaws.com/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101"
     "&X-Amz-Security-Token=FQo&X-Amz-Signature=9f3a&versionId=7",
     "https://b.s3.amazonaws.com/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
     "&X-Amz-Security-Token=***&X-Amz-Signature=***&versionId=7"),
    ("https://acct.blob.core.windows.net/c/v.mp4?sv=2021-08-06&sp=r&se=2030-01-01&sig=a%2Bb%3D",
     "https://acct.blob.core.windows.net/c/v.mp4?sv=***&sp=***&se=***&sig=***"),
    ("https://d1.cloudfront.net/v.mp4?Policy=eyJ&Signature=Qx~&Key-Pair-Id=K2", "https://d1.cloudfront.net/v.mp4?"
     "Policy=***&Signature=***&Key-Pair-Id=***"),
    ("https://cdn/v.mp4?TOKEN=t&api_key=k;access_token=a#key=f", "https://cdn/v.mp4?TOKEN=***&api_key=***;"
     "access_token=***#key=***"),
    ("https://alice:pw@cdn/v.mp4?sig=s", "https://***@cdn/v.mp4?sig=***"),
    ("https://cdn/v.mp4?id=7&token&key=&tokens=x", "https://cdn/v.mp4?id=7&token&key=&tokens=x"),  # no value: nothing
    ("https://cdn/key=1/v.mp4", "https://cdn/key=1/v.mp4"),  # the path is no query; `key=1` there may be an id
    # Names added since (were shown and kept as given), a PHP array, and a JSON Web Token under any name.
    ("https://cdn/v.mp4?id=7&pwd=p&Access-Token=a&md5=m&expires=9&token[]=x&sessionid=s",
     "https://cdn/v.mp4?id=7&pwd=***&Access-Token=***&md5=***&expires=9&token[]=***&sessionid=***"),
    ("https://cdn/v.mp4?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl&v=eyJustAName",
     "https://cdn/v.mp4?t=***&v=eyJustAName"),
    # Names added since analytics 0015 (were shown and kept as given): an OAuth code, an nginx secure_link-style `st`,
    # Akamai's HLS token, Google Video's, Alibaba OSS's, Tencent COS's, shared-link keys, a session id.
    ("https://app.example/cb.mp4?code=4%2F0Ad&state=xyz&scope=email", "https://app.example/cb.mp4?code=***&state=xyz"
     "&scope=email"),
    ("https://cdn/v.mp4?st=Xy_z&e=1700000000", "https://cdn/v.mp4?st=***&e=1700000000"),
    ("https://a.akamaihd.net/i.m3u8?hdntl=exp=1~acl=/*~hmac=9f", "https://a.akamaihd.net/i.m3u8?hdntl=***"),
    ("https://r1.googlevideo.com/videoplayback?expire=1&sig=AO&lsig=AG&itag=18",
     "https://r1.googlevideo.com/videoplayback?expire=1&sig=***&lsig=***&itag=18"),
    ("https://b.oss-cn.aliyuncs.com/v.mp4?OSSAccessKeyId=LTAI&Expires=1&Signature=s&security-token=t",
     "https://b.oss-cn.aliyuncs.com/v.mp4?OSSAccessKeyId=***&Expires=1&Signature=***&security-token=***"),
    ("https://b.cos.ap.myqcloud.com/v.mp4?q-sign-algorithm=sha1&q-ak=AK&q-signature=s&x-cos-security-token=t",
     "https://b.cos.ap.myqcloud.com/v.mp4?q-sign-algorithm=sha1&q-ak=***&q-signature=***&x-cos-security-token=***"),
    ("https://cdn/v.mp4?oh=00_AfB&oe=65&auth_key=1-0-0-m&sign=s&verify=1-m&x-signature=x",
     "https://cdn/v.mp4?oh=***&oe=65&auth_key=***&sign=***&verify=***&x-signature=***"),
    ("https://1drv.ms/v.mp4?authkey=!A&tempauth=t&rlkey=r&private_token=p&sas=s&oauth_token=o&JSESSIONID=j",
     "https://1drv.ms/v.mp4?authkey=***&tempauth=***&rlkey=***&private_token=***&sas=***&oauth_token=***"
     "&JSESSIONID=***"),
])
def test_the_values_of_a_signed_urls_secret_parameters_are_hidden_and_the_rest_kept_as_given(url, shown):
    assert secrets_hidden(url) == shown


@pytest.mark.parametrize(("url", "shown"), [
    ("https://cdn.example/token=abc123/v.mp4", "https://cdn.example/token=***/v.mp4"),
    ("https://cdn/TOKEN=abc/v.mp4?id=7", "https://cdn/TOKEN=***/v.mp4?id=7"),
    ("https://a.akamaihd.net/hdnts=exp=1700000000~acl=%2f*~hmac=9f3a0c/v.mp4",
     "https://a.akamaihd.net/hdnts=***~acl=%2f*~hmac=***/v.mp4"),
    ("https://a.akamaihd.net/hdnts=exp=1700000000~acl=/*~hmac=9f3a0c/v.mp4",  # the ACL's `/` left unescaped
     "https://a.akamaihd.net/hdnts=***~acl=/*~hmac=***/v.mp4"),
    ("https://z.b-cdn.net/bcdn_token=HS256-Xy&expires=1700000000&token_path=%2F/v.mp4",
     "https://z.b-cdn.net/bcdn_token=***&expires=1700000000&token_path=%2F/v.mp4"),
    ("https://proxy/X-Amz-Signature=9f3a;X-Amz-Credential=AKIA/b/v.mp4",
     "https://proxy/X-Amz-Signature=***;X-Amz-Credential=***/b/v.mp4"),
    ("https://cdn/sig/XYZ123/v.mp4", "https://cdn/sig/***/v.mp4"),
    ("https://cdn/media/token/abc123/2024/v.mp4", "https://cdn/media/token/***/2024/v.mp4"),
    ("https://cdn/eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDB9.c2lnbmF0dXJlX2hlcmU/v.mp4", "https://cdn/***/v.mp4"),
    ("https://cdn/v.mp4;token=abc", "https://cdn/v.mp4;token=***"),
    ("https://cdn/v.mp4;jsessionid=A1B2", "https://cdn/v.mp4;jsessionid=***"),  # a Java server's session in the path
    ("https://a.akamaihd.net/hdntl=exp=1~acl=%2f*~hmac=9f/i.m3u8", "https://a.akamaihd.net/hdntl=***~acl=%2f*~hmac=***"
     "/i.m3u8"),
    # Backslashes part the path as slashes do (browsers read them so, and ingest fetches them so): was shown whole.
    ("https://cdn/a\\token=abc\\v.mp4", "https://cdn/a\\token=***\\v.mp4"),
    ("https://cdn\\sig\\XYZ123\\v.mp4", "https://cdn\\sig\\***\\v.mp4"),
    # A link without its scheme, refused by ingest: its path tokens as a link's (was: shown whole).
    ("//cdn.example/token=abc123/v.mp4", "//cdn.example/token=***/v.mp4"),
])
def test_a_token_in_a_urls_path_is_hidden_as_one_in_its_query(url, shown):
    assert secrets_hidden(url) == shown
    assert secrets_hidden(shown) == shown  # hiding twice changes nothing (shown URLs are shown again)


@pytest.mark.parametrize("url", [
    "https://cdn/videos/2024/06/launch-day.mp4",
    "https://cdn/id=77/clip.mp4",  # an id an analyst recognises the video by
    "https://cdn/sig/v.mp4",  # after the marker, the file's name
    "https://cdn/token/",  # nothing after the marker
    "https://cdn/tokens/abc/v.mp4",
    "https://cdn/my-token=final/v.mp4",
    "https://cdn/a/token=/v.mp4",  # no value
    "https://cdn/eyJustAFileName.mp4",
    "videos/token=abc/v.mp4",  # a local path: its folders are real names
    "file:///data/sig/abc/v.mp4",
])
def test_ordinary_path_segments_file_names_and_local_paths_are_shown_as_given(url):
    assert secrets_hidden(url) == url


def test_a_digested_url_tells_links_apart_by_their_secrets_without_keeping_them():
    a, b = "https://cdn/v.mp4?token=hunter2&id=1", "https://cdn/v.mp4?token=hunter3&id=1"
    assert secrets_digested(a) == secrets_digested(a) != secrets_digested(b)
    assert "hunter" not in secrets_digested(a) and secrets_digested(a).endswith("&id=1")
    assert secrets_digested("https://cdn/v.mp4?id=1") == "https://cdn/v.mp4?id=1"


@pytest.mark.parametrize(("url", "shown"), [
    ("http://ann:pa/ss@cdn.example.com/v.mp4", "http://***@cdn.example.com/v.mp4"),
    ("https://ann:pa?ss@cdn.example.com/v.mp4", "https://***@cdn.example.com/v.mp4"),
    ("https://ann:pa#ss@cdn.example.com/v.mp4", "https://***@cdn.example.com/v.mp4"),
    ("https://ann:p/a@ss@cdn.example.com/a@b.mp4", "https://***@cdn.example.com/a@b.mp4"),
    ("https://ann:pa/ss@cdn.example.com", "https://***@cdn.example.com"),
])
def test_a_password_holding_an_unescaped_slash_question_mark_or_hash_is_hidden_kept_out_and_refused_as_one(
        url, shown, tmp_path):
    # Parsers end the authority at the `/` (`ann` as host, `pa` as port): the URL was shown, logged and kept whole,
    # and refused as "bad port 'pa'", naming the password's start.
    assert userinfo_hidden(url) == secrets_hidden(url) == secrets_keyed(url) == shown
    with pytest.raises(Refused, match=r"^user name or password in URL \(not supported\)$"):
        parse_url(url)
    with pytest.raises(FetchError) as err:
        fetch(url, tmp_path, FetchPolicy(max_bytes=1000, timeout_s=1))
    assert str(err.value) == f"{shown}: user name or password in URL (not supported)"


@pytest.mark.parametrize("url", [
    "https://www.tiktok.com/@creator/video/7301", "https://cdn.example.com:8443/@creator/v.mp4",
    "https://cdn.example.com/a@b.mp4", "http://cdn.example.com:/a@b.mp4", "http://[::1]:x/a@b.mp4",
])
def test_an_at_sign_in_a_path_after_a_host_or_port_is_no_password(url):
    assert userinfo_hidden(url) == secrets_keyed(url) == url


@pytest.mark.parametrize(("error", "shown"), [
    # Was "... (redirected to http://***@169.254.169.254/?token=***" in videos.csv and on the page: the `)` taken as
    # part of the token's value, and hidden with it.
    ("user name or password in URL (not supported) (redirected to http://***@169.254.169.254/?token=***)",
     "user name or password in URL (not supported) (redirected to http://***@169.254.169.254/?token=***)"),
    ("(redirected to https://cdn/v.mp4?sig=abc)", "(redirected to https://cdn/v.mp4?sig=***)"),
    ("same video as https://cdn/a.mp4?token=abc, whose score 1 counts", "same video as https://cdn/a.mp4?token=***, "
     "whose score 1 counts"),
    ("see https://cdn/clip_(final).mp4?token=abc.", "see https://cdn/clip_(final).mp4?token=***."),
    ("https://cdn/v.mp4?token=abc: HTTP 404", "https://cdn/v.mp4?token=***: HTTP 404"),
])
def test_the_punctuation_after_a_link_an_error_names_is_the_sentences_and_kept_when_its_secrets_are_hidden(
        error, shown):
    assert links_hidden(error) == shown
    assert links_hidden(shown) == shown


@pytest.mark.parametrize("url", ["https://pаypal.com/v.mp4", "https://xn--pypal-4ve.com/v.mp4",
                                 "https://cdn.gοogle.com/v.mp4"])  # a Cyrillic а; the same in xn--; a Greek ο
def test_a_host_label_mixing_latin_with_cyrillic_or_greek_is_refused_naming_the_host_and_its_ascii_form(url):
    """UTS 39's "highly restrictive" level, as browsers judge a name they show (ICANN's IDN guidelines forbid such
    labels at registries): Latin may mix with Han, Kana, Hangul and Bopomofo alone. Was: a warning, and fetched."""
    with pytest.raises(Refused, match=r"mixes scripts in one label \((Cyrillic|Greek), Latin\): a look-alike name "
                                      r"\(its ASCII form is (cdn\.)?xn--"):
        parse_url(url)
