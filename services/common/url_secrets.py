"""The secrets a video URL may carry, kept out of what is stored, logged and shown.

A signed link (S3, Google Cloud Storage, Azure SAS, CloudFront, a CDN token) carries its signature, key or
token in the query: the row's URL is recorded in analytics, exported in videos.csv, shown on the page and in
the CLI, logged and kept with the job's results, where the secret must not travel. The fetch alone uses the
URL as given.

Two forms: `secrets_hidden` for people (each secret value `***`), and `secrets_keyed` for a row's identity
(each secret a SHA-256 digest of it: the values of secret parameters, a token a CDN puts in the path
(`/token=abc/v.mp4`, Akamai's `/hdnts=.../`) and a user name and password): two links that differ only in a
secret stay two rows, as they were when the URL was kept as given, and a link given again is the same row.
(`secrets_digested`, the query's secrets alone, is the form rows were keyed by before path tokens and passwords
were digested too: analytics migration 0007 moves old rows to it.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from urllib.parse import unquote

from services.common.row_keys import PREFIX as MANIFEST_ROW
from services.common.url_scheme import has_scheme, is_scheme_relative

# Query (or fragment) parameters whose value is a secret, lower case: cloud signed URLs (AWS SigV4 and V2,
# Google V4 and V2, Azure SAS, CloudFront), Akamai tokens, and the usual names of tokens, keys and passwords.
SECRET_PARAMETERS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "awsaccesskeyid", "signature",
    "x-goog-signature", "x-goog-credential", "googleaccessid",
    "sig", "se", "sp", "sv", "skoid", "sktid", "skt", "ske", "sks", "skv",
    "policy", "key-pair-id",
    "hdnts", "hdnea", "__token__",
    "token", "access_token", "id_token", "refresh_token", "auth", "auth_token", "authorization",
    "key", "api_key", "apikey", "api-key", "secret", "client_secret", "password", "passwd",
    # Since analytics migration 0014 (they were shown and kept as given): other spellings of the same, session ids,
    # and the hashes CDNs sign links with (nginx secure_link's `md5`, Wowza's, an `hmac` or `hash`).
    "access-token", "accesstoken", "jwt", "x-api-key", "pwd", "pass", "passphrase", "credential", "credentials",
    "session", "sessionid", "session_id", "hmac", "md5", "hash", "wowzatokenhash",
    # Since analytics migration 0015 and ingest migration 0009 (they were shown and kept as given): an OAuth
    # authorization code and OAuth 1 tokens; the tokens of signed links of other CDNs and clouds (`st` of nginx
    # secure_link-style CDNs, Akamai's `hdntl`, Google Video's `lsig`, Facebook's `oh`, Alibaba's `auth_key` and
    # OSS, Tencent COS, a `sign`, `verify` or `x-signature`); shared-link keys (OneDrive `authkey`, SharePoint
    # `tempauth`, Dropbox `rlkey`, GitLab `private_token`, a SAS token) and session ids (`jsessionid`, `phpsessid`).
    "code", "oauth_token", "oauth_signature", "oauth_verifier", "st", "hdntl", "lsig", "oh", "auth_key", "sign",
    "verify", "x-signature", "ossaccesskeyid", "security-token", "x-oss-security-token", "x-oss-signature",
    "x-oss-credential", "q-signature", "q-ak", "x-cos-security-token", "authkey", "tempauth", "rlkey",
    "private_token", "access_key", "accesskey", "secret_key", "secretkey", "sas", "sastoken", "sas_token",
    "jsessionid", "phpsessid",
})
# Path segments that carry a CDN token, lower case: `name=value` segments (Akamai `/hdnts=exp=..~acl=..~hmac=../`,
# Bunny `/bcdn_token=..&expires=../`, `/token=abc/`, a signature moved into the path by a proxy), and marker
# segments whose next segment is the token (`/sig/XYZ/v.mp4`, `/token/abc/v.mp4`). Narrower than the query's
# list: a path segment `key=1` or `/key/7/` is as likely an id an analyst needs to see.
PATH_TOKEN_NAMES = frozenset({
    "hdnts", "hdnea", "__token__", "token", "bcdn_token", "access_token", "auth_token", "id_token", "auth",
    "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature",
    "x-goog-credential", "policy", "key-pair-id", "hmac", "api_key", "apikey", "secret", "password",
    "hdntl", "jsessionid", "phpsessid",  # since analytics migration 0015 (`/v.mp4;jsessionid=...`, Akamai's HLS token)
})
PATH_TOKEN_MARKERS = frozenset({"sig", "signature", "token", "auth", "hmac", "hdnts", "__token__"})
# A JSON Web Token as a segment of its own (three base64url parts, the header's `{"` as `eyJ`).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
HIDDEN = "***"
# A secret as a key keeps it (_digest): kept as it is when met again, so that a key is its own key.
_DIGESTED = re.compile(r"sha256-[0-9a-f]{32}")
# An http(s) link in an error's text, or one without its scheme (`//ann:pw@cdn/v.mp4`, refused by ingest) starting a
# word, without the colon that ends it in `LINK: reason`.
_LINK = re.compile(r"(?i)(?:https?:[/\\]|(?<![^\s(])//)[^\s]+?(?=:?(?:\s|$))")


def userinfo_hidden(url: str) -> str:
    """`url` with the user name and password of its authority (`user:password@`, any scheme, or none: a
    scheme-relative `//user:password@host/...`) as `***@`: the form in which a URL may be stored, logged and shown.
    URLs with them are refused (parse_url), but the row naming one is recorded, exported, logged and shown: a
    password or token must not travel with it. (`//ann:pw@cdn/v.mp4`, a link copied without its scheme, is read
    as a local path: it was kept, logged and shown with its password.)"""
    return _userinfo(url, lambda _userinfo: HIDDEN)


def _userinfo(url: str, replaced: Callable[[str], str]) -> str:
    """`url` with the user name and password of its authority (all before its last `@`) put through `replaced`.
    A password holding a `/`, `?` or `#` not escaped (`http://ann:pa/ss@host/`: the authority ends at it, as
    parsers read it) is one all the same when what the authority would be is `name:text` whose text is no port
    number and an `@` follows: all up to the last `@` before the next `/`, `?` or `#` is hidden. Such a URL was
    shown and kept whole (`http://ann:pa/ss@host/: bad port 'pa'`)."""
    start = _authority_start(url)
    if start < 0:
        return url
    end = _authority_end(url, start)
    at = url.rfind("@", start, end)
    if at < 0 and _NOT_A_PORT.fullmatch(url, start, end) and (later := url.find("@", end)) != -1:
        at = url.rfind("@", start, _authority_end(url, later))
    return url if at < 0 else f"{url[:start]}{replaced(url[start:at])}{url[at:]}"


def path_userinfo_hidden(text: str, url: str) -> str:
    """`text` (a row's key or error) with the user name and password of `url` `***` wherever a `/` precedes them,
    when `url` is a link given without its scheme whose are not hidden yet (`//ann:pw@cdn/v.mp4`); as it is for any
    other url. Ingest read such a link as a local path: a row's key was that path resolved (`/ann:pw@cdn/v.mp4`, one
    slash) and its error named it, both with the password as given, where rows are taken in with it `***` now."""
    if not url or has_scheme(url) is not None or (hidden := userinfo_hidden(url)) == url:
        return text
    rest = hidden[len(f"//{HIDDEN}@"):]
    if not url.endswith(f"@{rest}"):
        return text
    userinfo = url[2:len(url) - len(rest) - 1]
    return text.replace(f"/{userinfo}@", f"/{HIDDEN}@")


# Schemes whose authority browsers find after any run of `/` and `\`, or none (WHATWG URL's special schemes, but
# `file:`, whose host is read otherwise): `https:\\ann:pw@cdn\v.mp4`, `https:/ann:pw@cdn/v.mp4` and
# `https:ann:pw@cdn/v.mp4` are all `https://ann:pw@cdn/v.mp4` to them.
_ANY_SLASHES = frozenset({"http", "https", "ftp", "ws", "wss"})


def _authority_start(url: str) -> int:
    """Where the authority of `url` starts: after its scheme's `//` (after any run of `/` and `\\` for http(s),
    ftp and ws(s), as browsers read them: refused here, but shown and kept with their password until it was hidden);
    after the `//` of a link given without its scheme; -1 when it has none (a path)."""
    scheme = has_scheme(url)
    if scheme is None:
        return 2 if url.startswith("//") else -1
    after = len(scheme) + 1
    if scheme in _ANY_SLASHES:
        return len(url) - len(url[after:].lstrip("/\\"))
    return after + 2 if url.startswith("//", after) else -1


# An authority `name:text` whose text is no port number (not bracketed IPv6, not digits): a password cut short.
_NOT_A_PORT = re.compile(r"[^\[\]:@]*:(?![0-9]*$).+")


def _authority_end(url: str, start: int) -> int:
    """Where an authority starting at `start` ends: its first `/`, `?` or `#`, or the end of `url`."""
    return min((i for i in (url.find(sep, start) for sep in "/?#") if i != -1), default=len(url))


def secrets_before_query(url: str) -> bool:
    """Whether `url` holds a secret before its query: a user name and password, or a token in its path (as
    secrets_hidden finds them, `***` included)."""
    found: list[str] = []
    _path_tokens(_userinfo(url, lambda value: found.append(value) or value), lambda value: found.append(value) or value)
    return bool(found)


def secrets_hidden(url: str) -> str:
    """`url` as it may be stored for display, logged and shown: its user name and password `***@`
    (userinfo_hidden), the value of each secret query or fragment parameter (SECRET_PARAMETERS,
    any case) `***`, and a token in its path `***` (path_tokens_hidden); everything else exactly as given."""
    return _each_secret(path_tokens_hidden(userinfo_hidden(url)), lambda _value: HIDDEN)


def links_hidden(text: str) -> str:
    """An error's text with the secrets of each http(s) link it names hidden (and of each one without its scheme,
    `//ann:pw@cdn/v.mp4`, which ingest reads as a local path), as errors name links today
    (`LINK: HTTP 404`, `same video as LINK`; a link cut at 200 characters hides what is left of a value). The
    punctuation after a link is the sentence's, kept: a comma, full stop or semicolon ending it, and a `)` it does not
    open (`(redirected to LINK)`, `same video as LINK, whose score`): a secret value ending the link took it along,
    and the row error of a redirect refused to a link ending in a secret lost its `)` in videos.csv and the page."""
    return _LINK.sub(lambda m: _link_hidden(m.group()), text)


def _link_hidden(link: str) -> str:
    """`link` (as _LINK finds it in a text) with its secrets hidden and the sentence's punctuation after it kept."""
    end = len(link)
    while end and (link[end - 1] in ",.;"
                   or link[end - 1] == ")" and link.count(")", 0, end) > link.count("(", 0, end)):
        end -= 1
    return secrets_hidden(link[:end]) + link[end:]


def location_shown(location: str) -> str:
    """A row's location (its key: secrets digested, the rest as given) as an export or page may show it: its
    user name and password `***@` and the tokens in its path `***`; the digests stay, since they tell apart
    two links that differ only in a secret, and reveal none."""
    return path_tokens_hidden(userinfo_hidden(location))


def path_tokens_hidden(url: str) -> str:
    """`url` with the tokens CDNs put in a path hidden, for display: the value of a `name=value` segment, or of
    a `&`-, `;`-, `,`- or `~`-separated pair in one, whose name is in PATH_TOKEN_NAMES (`/token=***/v.mp4`,
    `/hdnts=***/`); the segment after a marker segment (PATH_TOKEN_MARKERS: `/sig/***/v.mp4`), unless it is the
    last one (the file's name); a segment that is a JSON Web Token. Other segments (names, ids, dates), and a
    URL that is not http(s) nor a link without its scheme (a local path, whose folders are real names) as given."""
    return _path_tokens(url, lambda _value: HIDDEN)


def _path_tokens(url: str, replaced: Callable[[str], str]) -> str:
    """`url` with each token of its path (as path_tokens_hidden finds them) put through `replaced`."""
    # The slashes as browsers read them (_authority_start); a link without its scheme (`//cdn/token=abc/v.mp4`) too.
    # A backslash ends the host and parts the path as a `/` does, as browsers read an http(s) URL (ingest fetches so).
    m = re.match(r"(?i)https?:[/\\]*[^/\\?#]*", url) or (
        re.match(r"//[^/\\?#]*", url) if is_scheme_relative(url) else None)
    if m is None:
        return url
    end = len(url)
    for sep in "?#":
        i = url.find(sep, m.end())
        if i != -1:
            end = min(end, i)
    parts = re.split(r"([/\\])", url[m.end():end])
    segments, slashes = parts[0::2], parts[1::2]
    for k, segment in enumerate(segments):
        if _JWT.fullmatch(segment):
            segments[k] = replaced(segment)
        elif "=" in segment:
            pieces = re.split(r"([&;,~])", segment)  # Akamai's fields are `~`-separated
            segments[k] = "".join(p if j % 2 else _path_pair(p, replaced) for j, p in enumerate(pieces))
        elif k + 1 < len(segments) - 1 and segments[k + 1] and unquote(segment).lower() in PATH_TOKEN_MARKERS:
            segments[k + 1] = replaced(segments[k + 1])
    path = "".join(p for pair in zip(segments, [*slashes, ""], strict=True) for p in pair)
    return url[:m.end()] + path + url[end:]


def _path_pair(piece: str, replaced: Callable[[str], str]) -> str:
    name, eq, value = piece.partition("=")
    if not eq or not value or unquote(name).strip().lower() not in PATH_TOKEN_NAMES:
        return piece
    return f"{name}={replaced(value)}"


def secrets_keyed(location: str) -> str:
    """`location` as a row's key keeps it: each secret secrets_hidden would hide (a user name and password, a
    secret parameter's value, a token in an http(s) path) as `sha256-` and the first 32 hex digits of its
    SHA-256, the rest exactly as given. Two links that differ in a secret differ here; the secret is not kept.
    A value already so (a key given back) or `***` (hidden before it came) is kept as it is, so a key is its
    own key. A user name and password are `***`, not digested: unlike a token, a password a person chose can be
    found again from its digest by trying guesses (such a link is refused, so its rows are failed rows, and two
    differing only there are one row, the second listed as its duplicate). A link given without its scheme
    (`//cdn/v.mp4?token=abc`, `//ann:pw@cdn/v.mp4`) is keyed as a link (was: its token kept); another location
    without a scheme (a local path, whose `?` and folders are real names) as given; a manifest row's key (row_keys:
    a folder and line) as given."""
    if location.startswith(MANIFEST_ROW):
        return location
    if has_scheme(location) is None and not is_scheme_relative(location):
        return userinfo_hidden(location)
    return _each_secret(_path_tokens(userinfo_hidden(location), _digest), _digest)


def path_link_keyed(location: str, url: str) -> str:
    """The key `location` of a row whose `url` (as given or hidden) is a link without its scheme
    (`//cdn/v.mp4?token=abc`), with that link's secrets digested as secrets_keyed digests a link's: ingest keyed such
    a row by the path it read the link as (`/cdn/v.mp4?token=abc`, one slash), and keys it so still, its token
    digested (`/cdn/v.mp4?token=sha256-...`), so that the same cell keeps its key. Any other location as it is."""
    if not is_scheme_relative(url) or not location.startswith("/") or location.startswith("//"):
        return location
    return secrets_keyed("/" + location)[1:]


def _digest(value: str) -> str:
    if value == HIDDEN or _DIGESTED.fullmatch(value):
        return value
    return f"sha256-{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def secrets_digested(url: str) -> str:
    """`url` as a row's identity is kept: each secret parameter's value as `sha256-` and the first 32 hex
    digits of its SHA-256 (of the value as written), the rest exactly as given. Links that differ in a secret
    differ here; the secret is not kept."""
    return _each_secret(url, lambda value: f"sha256-{hashlib.sha256(value.encode()).hexdigest()[:32]}")


def _each_secret(url: str, replaced: Callable[[str], str]) -> str:
    """`url` with the value of each secret parameter of its query and fragment (`name=value` pairs between `&`
    or `;`) put through `replaced`; a parameter without a value, or with an empty one, is left as it is."""
    start = url.find("?")
    if start < 0:
        start = url.find("#")
    if start < 0:
        return url
    pieces = re.split(r"([?#&;])", url[start:])  # pairs at even places, their separators between
    return url[:start] + "".join(p if k % 2 else _pair(p, replaced) for k, p in enumerate(pieces))


def _pair(piece: str, replaced: Callable[[str], str]) -> str:
    """A `name=value` pair with its value put through `replaced` when it is a secret: its name is one of
    SECRET_PARAMETERS (as a PHP array too: `token[]`), or the value is a JSON Web Token, whatever its name
    (`?t=eyJ...`, `?jwt_auth=eyJ...`)."""
    name, eq, value = piece.partition("=")
    if not eq or not value or (unquote(name).strip().lower().removesuffix("[]") not in SECRET_PARAMETERS
                               and not _JWT.fullmatch(unquote(value))):
        return piece
    return f"{name}={replaced(value)}"
