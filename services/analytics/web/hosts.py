"""Which `Host` the report page answers, and which `Origin` may post to it (DNS rebinding and CSRF).

A site that re-resolves its own name to 127.0.0.1 makes the victim's browser talk to the loopback page as
if it were that site: same origin for the browser, so it may read the answers. The browser still sends the
attacker's name in `Host`, so the page answers only the names it is served under: the configured host
(INFLUENCERS_HOST, unless it is a wildcard address), the public names of INFLUENCERS_ALLOWED_HOSTS, and the
loopback names (localhost, 127.0.0.1, [::1]); any port. Every POST must moreover come from one of those
names on the same port, by its `Origin` (or, when a browser sent none, its `Referer`). A request with
neither is not from a browser page, and needs the synchronizer token like every POST (OWASP's CSRF cheat
sheet: Origin/Referer verification as defence in depth over the token).

Pure functions: no Flask here (the hook is in session.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names (lower case, IPv6 without brackets, no port) the page answers: loopback, `host` unless
    it is a wildcard bind address, and each of `extra` (INFLUENCERS_ALLOWED_HOSTS, comma separated)."""
    names = set(LOOPBACK_NAMES)
    for name in (host, *extra):
        name = normalise(name)
        if name not in _WILDCARDS:
            names.add(name)
    return frozenset(names)


def normalise(name: str) -> str:
    """A host name as compared: lower case, no trailing dot, IPv6 without brackets."""
    name = name.strip().lower().rstrip(".")
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def split_host(value: str) -> tuple[str, int | None] | None:
    """`name[:port]` of a Host header as (normalised name, port or None); None when it is not one."""
    value = value.strip()
    if not value or len(value) > 300 or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        name, port_text = value.split(":")
    elif ":" in value:
        return None  # a bare IPv6 address: Host must bracket it
    else:
        name, port_text = value, None
    if port_text is not None and (not port_text.isdigit() or not 0 < int(port_text) < 65536):
        return None
    if not name:
        return None
    return normalise(name), int(port_text) if port_text is not None else None


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's `Host` names one of the page's names (any port)."""
    parsed = split_host(host_header or "")
    return parsed is not None and parsed[0] in allowed


def same_site_origin(source: str, host_header: str, allowed: frozenset[str]) -> bool:
    """Whether an `Origin` (or a `Referer` URL) is the page itself: an allowed name on the port of `Host`.

    A port given on one side only must be that scheme's default (a proxy in front may drop ":443").
    """
    try:
        parts = urlsplit(source.strip())
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    target = split_host(host_header)
    if target is None or normalise(parts.hostname) not in allowed or normalise(parts.hostname) != target[0]:
        return False
    host_port = target[1]
    if origin_port is None or host_port is None:
        given = origin_port if origin_port is not None else host_port
        return given is None or given in _DEFAULT_PORTS.values()
    return origin_port == host_port
