"""Which http(s) URLs a download may go to: one strict URL parser, one address rule, one resolution.

The parser's `Target` is what the check looks at *and* what the connection uses: the host is resolved
once, every address is checked, and the client connects to one of those exact addresses (pinned),
sending the name only as the Host header and TLS server name. Spellings that parsers disagree on
(userinfo, backslashes in or before the host, numeric IPv4 forms other than a.b.c.d, percent-encoded hosts,
control characters, IPv6 zone ids) are refused instead of guessed; a backslash in the path is a `/`, as browsers
read it. A host written in Unicode (`bücher.example`) is its IDNA 2008 ASCII
form (`xn--bcher-kva.example`), which every other rule then judges; a host written in that form is first read
back to the Unicode name it spells, and judged as that name.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import idna

from services.common.host_doubts import mixed_scripts, passes_for
from services.common.host_names import A_LABEL, DOTTED_QUAD, FULL_STOPS_KEPT, HOST_LABEL, NUMERIC_LABEL
from services.common.url_scheme import has_scheme
from services.common.url_secrets import userinfo_hidden

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A resolver maps (host name, port) to the IP addresses (strings) the name stands for.
Resolver = Callable[[str, int], Sequence[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_IDN_CHARS = 1024  # of a host to convert or decode: its ASCII form has at most 253, UTS 46 may drop some

# Not globally reachable (IANA special-purpose registries), kept explicit so the rule does not depend on the
# Python version's `is_global`; both this list and `is_global` must pass.
_REFUSED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/8", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7",
    "fe80::/10", "fec0::/10", "ff00::/8",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
# Never fetched, even when a lab allows private addresses: the cloud metadata services (credentials of the
# machine) and all of link-local, where they and their kind live. AWS, GCP, Azure, OCI, DigitalOcean:
# 169.254.169.254; AWS over IPv6: fd00:ec2::254; Alibaba: 100.100.100.200; Azure's WireServer: 168.63.129.16.
_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16", "169.254.170.2", "192.0.0.192",
))
_NEVER_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10"))
# The words for an address that is refused, the first network holding it deciding.
_KINDS = tuple((ipaddress.ip_network(n), kind) for n, kind in (
    ("127.0.0.0/8", "loopback"), ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"), ("fe80::/10", "link-local"),
    ("10.0.0.0/8", "private"), ("172.16.0.0/12", "private"), ("192.168.0.0/16", "private"), ("fc00::/7", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("0.0.0.0/8", "unspecified"), ("::/128", "unspecified"),
    ("224.0.0.0/4", "multicast"), ("ff00::/8", "multicast"),
))
ALLOW_HINT = "an internal address: set INFLUENCERS_ALLOW_PRIVATE_URLS=1 to allow"


class Refused(Exception):
    """The URL or the address it leads to may not be fetched; the message says why in a user's words."""


@dataclass(frozen=True)
class Target:
    """One parsed http(s) URL, exactly as it will be requested.

    `host` is a lower-case name without a trailing dot, or an IP address in canonical form (IPv6 without
    brackets); `ip` is set when the host is an IP literal. `request_target` is the path and query sent in
    the request line (always starting with "/", non-ASCII percent-encoded, fragment dropped).
    """

    scheme: str
    host: str
    port: int
    request_target: str
    ip: IPAddress | None = None

    @property
    def host_header(self) -> str:
        """The Host header: the host (bracketed when IPv6), with the port when it is not the default."""
        host = f"[{self.host}]" if isinstance(self.ip, ipaddress.IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL rebuilt from its parts (what a relative redirect is resolved against)."""
        return f"{self.scheme}://{self.host_header}{self.request_target}"


def parse_url(url: str) -> Target:
    """Parses an absolute http(s) URL strictly; raises Refused for anything ambiguous or malformed."""
    if (control := _control_refusal(url)) is not None:
        raise Refused(control)
    scheme = has_scheme(url)
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"unsupported URL scheme {shown_host(scheme) if scheme is not None else None}")
    rest = url[len(scheme) + 1:]
    if "\\" in rest[:2]:
        raise Refused(f"backslash in URL (write {scheme}:// with forward slashes)")
    if not rest.startswith("//"):
        one_slash = f" (one slash after '{scheme}:': write {scheme}://HOST/...)" if rest.startswith("/") else ""
        raise Refused(f"no host in URL{one_slash}")
    rest = rest[2:]
    end = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1:
            end = min(end, i)
    authority, tail = rest[:end], rest[end:]
    if " " in authority or " " in scheme:
        raise Refused("whitespace or control character in URL")
    if "\\" in authority:  # browsers end the host at it, RFC 3986 and url_secrets do not: which host is meant?
        raise Refused(f"backslash in the URL's host {shown_host(authority)} (browsers end the host there, other "
                      "readers do not: write / after the host)")
    # A password holding a `/`, `?` or `#` ends the authority early (`http://ann:pa/ss@host/`): refused as one, the
    # rule that hides it deciding, not as a "bad port 'pa'" naming the password's start.
    if "@" in authority or userinfo_hidden(url) != url:
        raise Refused("user name or password in URL (not supported)")
    host, port = _split_host_port(authority, DEFAULT_PORTS[scheme])
    tail = tail.split("#", 1)[0]
    if not tail.startswith("/"):
        tail = "/" + tail
    path, question, query = tail.partition("?")
    # A backslash in the path is a `/` to browsers (WHATWG URL, for http and https): the page's link to the video opens
    # that file, and so is it fetched (was: refused). In the query it is a character, sent as %5C.
    tail = _without_dot_segments(path.replace("\\", "/")) + question + query
    # A blank in the path or query, and characters outside ASCII, are sent percent-encoded (UTF-8) as a browser
    # sends them ("my clip.mp4" is "my%20clip.mp4"); existing escapes and reserved characters stay.
    request_target = quote(tail, safe="/?#[]@!$&'()*+,;=:%~-._")
    host = _ascii_host(host)
    ip = _parse_ip_host(host)
    if ip is not None:
        return Target(scheme, str(ip), port, request_target, ip)
    return Target(scheme, _check_name(host), port, request_target)


_CONTROL_NAMES = {"\t": "a tab", "\n": "a line break (LF)", "\r": "a line break (CR)", "\x7f": "a DEL character"}


def _control_refusal(url: str) -> str | None:
    """Why a URL holding a control character or blanks around it is refused, naming the first one and where it is;
    None when it holds none. Browsers (WHATWG URL) drop tabs and line breaks anywhere in a URL, and blanks and
    controls around it: for `https://cdn/a.mp4` with a tab before its dot they open `https://cdn/a.mp4`, a file whose
    name the cell does not show (a tab or a break in a file's name is rarer than one pasted in by mistake). Refused
    rather than either guess, so that nothing is fetched but the file the cell names; a name that holds one is
    written percent-encoded (`%09`)."""
    if url[:1] == " " or url[-1:] == " ":
        return "whitespace or control character in URL (a blank before or after it: remove it)"
    at = next((k for k, c in enumerate(url) if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if at is None:
        return None
    c = url[at]
    name = _CONTROL_NAMES.get(c, f"the control character U+{ord(c):04X}")
    if c not in "\t\n\r":
        return f"whitespace or control character in URL: {name} at character {at + 1} (remove it)"
    return (f"whitespace or control character in URL: {name} at character {at + 1}, which browsers drop (remove it, "
            f"or write it %{ord(c):02X} if the file's name holds it)")


# A path segment that is a dot segment, as browsers read one: its dots written as they are or as `%2e`.
_DOTS = {".": ".", "%2e": ".", "..": "..", ".%2e": "..", "%2e.": "..", "%2e%2e": ".."}


def _without_dot_segments(path: str) -> str:
    """`path` (starting with "/") with its `.` and `..` segments resolved, as RFC 3986 5.2.4 has it and as browsers,
    curl and urllib3 send it: `/a/b/../c.mp4` is `/a/c.mp4` (a redirect to `../c.mp4` is joined so); a `..` at
    the root stays at the root. Servers that keep names as keys (object stores) read `..` as a name.
    A dot written `%2e` (any case: `%2e%2e`, `.%2E`) is a dot here too, as browsers read it (WHATWG URL) and as
    RFC 3986 6.2.2.2 normalises an escaped unreserved character: the link the page shows opens the file fetched."""
    out: list[str] = []
    segments = path.split("/")[1:]
    for k, segment in enumerate(segments):
        last = k == len(segments) - 1
        dots = _DOTS.get(segment.lower())
        if dots is not None:
            if dots == ".." and out:
                out.pop()
            if last:
                out.append("")  # `/a/b/..` is the folder `/a/`
            continue
        out.append(segment)
    return "/" + "/".join(out)


def _split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise Refused("unclosed [ in URL host")
        host, after = authority[:close + 1], authority[close + 1:]
        if after and not after.startswith(":"):
            raise Refused("malformed URL host")
        port_text = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise Refused(_unbracketed(authority))
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
    if not host:
        raise Refused("no host in URL")
    if port_text is None:
        return host, default_port
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        raise Refused(f"bad port {shown_host(port_text)} in URL (1-65535)")
    return host, int(port_text)


def _unbracketed(authority: str) -> str:
    """Why a host with several colons is refused: an IPv6 address must be in brackets (`http://[::1]/`).
    A non-public one is named as such first, so that `http://::1/` reads as what it is."""
    try:
        ip = ipaddress.IPv6Address(authority)
    except ValueError:
        return f"malformed URL host {authority[:80]!r}"
    if not is_public_address(ip):
        return f"refused: {address_kind(ip)} address {ip} (an IPv6 host is written in brackets: [{ip}])"
    return f"IPv6 address {ip} without brackets in URL (write [{ip}])"


def _parse_ip_host(host: str) -> IPAddress | None:
    """An IP literal host as an address; None for a name. Numeric forms other than a.b.c.d are refused,
    because resolvers read them as addresses (2130706433, 0x7f.1, 0177.0.0.1 are all 127.0.0.1)."""
    if host.startswith("["):
        inner = host[1:-1]
        if "%" in inner:
            raise Refused("IPv6 zone id in URL (not supported)")
        try:
            return ipaddress.IPv6Address(inner)
        except ValueError:
            raise Refused(f"malformed IPv6 address {shown_host(inner)} in URL") from None
    if "%" in host:
        raise Refused(f"percent-encoded host {shown_host(host)}")
    bare = host[:-1] if host.endswith(".") else host
    last = bare.rsplit(".", 1)[-1]
    if NUMERIC_LABEL.fullmatch(last):
        if not DOTTED_QUAD.fullmatch(bare):
            raise Refused(f"ambiguous numeric host {shown_host(host)} (write an IPv4 address as four decimal numbers "
                          "a.b.c.d)")
        return ipaddress.IPv4Address(bare)
    return None


def _ascii_host(host: str) -> str:
    """`host` as the ASCII the other rules judge: itself when ASCII (or a bracketed IPv6 literal), else its IDNA
    form (_idna_host). An ASCII host holding `xn--` labels (a Unicode name written as its A-labels) is judged as the
    Unicode name they spell: a label that is no valid IDNA 2008 A-label is refused, naming the host, as the Unicode
    name would be. An IP address spelled in other digits (full-width `１２７.０.０.１`) is refused, not read.
    A converted or decoded name is logged with the name fetched; as a warning when it passes for another ASCII name
    (all-Cyrillic `аррӏе.com`: fetched all the same, a name of one script is a name its registry allowed). A label
    mixing scripts beyond UTS 39's "highly restrictive" ones (Latin with Cyrillic, Greek, ...) is refused."""
    if host.startswith("[") or host.isascii() and not A_LABEL.search(host):
        return host
    if len(host) > MAX_IDN_CHARS:  # before any label is decoded: 20,000 `xn--` labels took 3 s
        raise Refused(f"host {shown_host(host)} is not a valid internationalised domain name: {len(host)} characters "
                      f"(a host name has at most 253)")
    if "%" in host:
        raise Refused(f"percent-encoded host {shown_host(host)}")
    unicode = _u_labels(host)
    converted = host if host.isascii() else _idna_host(host)
    name = converted.rstrip(".").lower()
    if DOTTED_QUAD.fullmatch(name):
        raise Refused(f"host {shown_host(host)} spells the IP address {name} in other characters than ASCII "
                      f"(write {name})")
    if scripts := mixed_scripts(unicode):
        # A label of Latin and Cyrillic (or Greek, ...) letters is what a homograph is made of: registries refuse
        # such labels (ICANN's IDN guidelines), browsers show them as their xn-- form (UTS 39 "highly
        # restrictive"), and a manifest's link is someone else's text. Refused, the row alone, naming both forms.
        raise Refused(f"host {shown_host(unicode)} mixes scripts in one label ({', '.join(scripts)}): a look-alike "
                      f"name (its ASCII form is {name}), refused; write the host as its owner registered it")
    if latin := passes_for(unicode, name):  # mixing no scripts (refused above), it may still pass for another
        log.warning("host %s passes for %r: fetched as %s", shown_host(unicode), latin, name)
    else:
        log.info("host %s is fetched as %s", shown_host(unicode), name)
    return converted


def _u_labels(host: str) -> str:
    """`host` with each of its `xn--` labels (an A-label, any case) as the Unicode label it spells (IDNA 2008: valid
    Punycode, every character allowed, the A-label the canonical one for it; `idna.ulabel`); its other labels as
    written. Refused, naming the host, for an A-label IDNA refuses (`xn--abc`, `xn--n3h`: a snowman)."""
    try:
        return "".join(idna.ulabel(part) if A_LABEL.match(part) else part for part in FULL_STOPS_KEPT.split(host))
    except idna.IDNAError as exc:
        raise Refused(f"host {shown_host(host)} is not a valid internationalised domain name: {exc}") from None


def _idna_host(host: str) -> str:
    """A host written in Unicode as the ASCII name it stands for: IDNA 2008 with UTS 46 mapping (case folded,
    full-width forms and ideographic full stops read as a browser reads them), non-transitional (`faß.de` stays
    itself, as browsers resolve it). Refused, naming the host, for what IDNA refuses: symbols, emoji, a label
    mixing directions, characters a host name cannot hold (a full-width `／` or `：`)."""
    try:
        return idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError as exc:
        raise Refused(f"host {shown_host(host)} is not a valid internationalised domain name: {exc}") from None


def shown_host(host: str) -> str:
    """A host (or a scheme) for a message: quoted, cut to 80 characters (a manifest cell may hold 100,000)."""
    return repr(host if len(host) <= 80 else host[:77] + "...")


def _check_name(host: str) -> str:
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if len(name) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels):
        raise Refused(f"malformed host name {shown_host(host)}")
    return name.lower()


def join_url(base: Target, location: str) -> str:
    """Resolves a redirect's Location against the URL it came from (RFC 3986 reference forms), as browsers resolve
    it (WHATWG URL) where that reads more than RFC 3986 does. The result is parsed again by `parse_url`, so it
    passes the same checks as the first URL.

    An http(s) Location without the `//` of an authority is what browsers make of it: of the base's own scheme,
    a reference relative to the base (`http:ok.mp4` is `ok.mp4` beside it, `http:/v/ok.mp4` the path `/v/ok.mp4`
    on its host; RFC 3986 5.2.2 allows this reading for compatibility); of the other one, the authority's slashes
    taken as missing (`https:cdn.example/v.mp4` is `https://cdn.example/v.mp4`). Extra slashes before a host
    (`http:///cdn.example/v.mp4`, `///cdn.example/v.mp4`) are dropped, as browsers and curl drop them. Was:
    followed as written, refused as `no host in URL`, where a browser opens the video."""
    # Browsers read a backslash before the query as a `/` in an http(s) URL: `Location: \\cdn.example\v.mp4` is
    # `//cdn.example/v.mp4`, another host; read as written, it would be a path of this host (it was refused).
    cut = min((i for i in (location.find("?"), location.find("#")) if i != -1), default=len(location))
    location = location[:cut].replace("\\", "/") + location[cut:]
    scheme = has_scheme(location)
    if scheme in DEFAULT_PORTS:
        rest = location[len(scheme) + 1:]
        if rest.startswith("//"):
            return f"{scheme}://{rest.lstrip('/')}"
        if scheme != base.scheme:
            return f"{scheme}://{rest.lstrip('/')}"
        location = rest
    elif scheme is not None:
        return location
    origin = f"{base.scheme}://{base.host_header}"
    if location.startswith("//"):
        return f"{base.scheme}://{location.lstrip('/')}"
    if location.startswith("/"):
        return origin + location
    path = base.request_target.split("?", 1)[0]
    if not location or location.startswith("?"):
        return origin + path + location
    if location.startswith("#"):
        return base.url
    return origin + path.rsplit("/", 1)[0] + "/" + location


def is_public_address(ip: IPAddress) -> bool:
    """True when `ip` is globally routable: `ipaddress.is_global` and outside every special-purpose range.
    IPv4 inside IPv6 is judged as that IPv4: mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:  # inside ::/8, which is otherwise refused
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and not is_public_address(ip.sixtofour):
            return False
    return ip.is_global and not any(ip in net for net in _REFUSED_NETWORKS if net.version == ip.version)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 an IPv6 address carries: mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d (SIIT), the deprecated
    compatible ::a.b.c.d, NAT64 64:ff9b::/96 and the local-use 64:ff9b:1::/48 as deployed (the IPv4 last, as in
    /96), 6to4 2002::/16, and a Teredo client's (2001::/32). A network that translates one of them reaches that IPv4,
    so the never-fetched rule judges it so even when internal addresses are allowed."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    last = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64 or ip in _LOCAL_NAT64 or ip in _TRANSLATED or 1 < int(ip) < 1 << 32:
        return last
    if ip.teredo is not None:
        return ip.teredo[1]
    return ip.sixtofour


def is_never_fetched(ip: IPAddress) -> bool:
    """True for a cloud metadata address or any link-local one (169.254.0.0/16, fe80::/10), also inside
    IPv6: refused whatever INFLUENCERS_ALLOW_PRIVATE_URLS says."""
    inner = _embedded_ipv4(ip)
    if inner is not None and is_never_fetched(inner):
        return True
    return ip in _METADATA or any(ip in net for net in _NEVER_NETWORKS if net.version == ip.version)


def address_kind(ip: IPAddress) -> str:
    """What a non-public address is, in words: "cloud metadata", "loopback", "link-local", "private",
    "multicast", ... ("reserved" for the rest). An IPv6 address carrying an IPv4 is judged by that IPv4."""
    inner = _embedded_ipv4(ip)
    if inner is not None and not is_public_address(inner):
        return address_kind(inner)
    if ip in _METADATA:
        return "cloud metadata"
    return next((kind for net, kind in _KINDS if net.version == ip.version and ip in net), "reserved")


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a download may not connect to `ip` ("refused: loopback address ::1 (...)"), or None when it may.
    The decision of every connection: public addresses pass; internal ones only with `allow_private`;
    metadata and link-local addresses never."""
    if is_never_fetched(ip):
        return f"refused: {address_kind(ip)} address {ip} (never fetched, even with INFLUENCERS_ALLOW_PRIVATE_URLS)"
    if not allow_private and not is_public_address(ip):
        return f"refused: {address_kind(ip)} address {ip} ({ALLOW_HINT})"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The system's addresses for `host` (getaddrinfo, TCP), in its order of preference."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve host {host!r}") from exc
    return [str(info[4][0]) for info in infos]


def resolve_checked(target: Target, allow_private: bool, resolver: Resolver = system_resolver) -> list[IPAddress]:
    """Resolves the target's host once and returns the addresses to connect to, every one checked.

    An IP literal is not resolved. Any address `address_refusal` refuses refuses the whole host (a name that
    also points inside is not fetched): non-public ones unless `allow_private`, metadata and link-local
    ones always.
    """
    if target.ip is not None:
        addresses: list[IPAddress] = [target.ip]
    else:
        addresses = []
        for raw in resolver(target.host, target.port):
            try:
                addresses.append(ipaddress.ip_address(raw))
            except ValueError:
                raise Refused(f"host {target.host!r} resolved to a malformed address {raw!r}") from None
        if not addresses:
            raise Refused(f"cannot resolve host {target.host!r}")
    # An IPv4-mapped address is the IPv4 it stands for: checked, reported and connected to as such.
    unique = list(dict.fromkeys(_unmapped(ip) for ip in addresses))
    for ip in unique:
        if (why := address_refusal(ip, allow_private)) is not None:
            raise Refused(why)
    return unique


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
