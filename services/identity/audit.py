"""The audit trail's identity side: who asked for a correction (the caller's actor), the deployment's key for the
keyed hash of an erased id, and the AuditEntry each correction appends to the feed with its change.

Who: the caller names itself in the gRPC metadata `x-influencers-actor` (the page: "page:" and its session, the
CLI: "cli:" and the OS user). The value is bounded (ACTOR_CHARS) and cleaned of anything but printable ASCII,
so that a caller cannot write control or bidi characters into the trail. A call without it is "token" when the
server requires the gRPC token (the caller proved it has it) and "anonymous" on a tokenless loopback server.

An erased id is kept only as HMAC-SHA256 with the deployment's key (Settings.audit_key, else a random key made
once in DATA/identity/audit.key with mode 0600): a plain hash of an id derived from listed video ids could be
found again by trying them all; without the key, the HMAC cannot.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from influencers.v1 import identity_pb2
from services.common.actor import ACTOR_HEADER
from services.common.damage import StoreDamaged

ACTOR_CHARS = 80  # characters of an actor kept
KEY_FILE = Path("identity") / "audit.key"  # under the data dir
TOKEN_ACTOR, ANONYMOUS_ACTOR = "token", "anonymous"


def clean_actor(value: str | bytes | None) -> str:
    """The actor as recorded: printable ASCII only (anything else becomes "?"), blanks folded, at most
    ACTOR_CHARS characters; "" when nothing is left."""
    if value is None:
        return ""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = "".join(c if " " <= c <= "~" else "?" for c in text[:ACTOR_CHARS * 4])
    return " ".join(text.split())[:ACTOR_CHARS]


def actor_of(metadata: Iterable[tuple[str, str | bytes]] | None, token_required: bool) -> str:
    """Who made a call, from its invocation metadata (see the module's docstring)."""
    for key, value in metadata or ():
        if key.lower() == ACTOR_HEADER:
            given = clean_actor(value)
            if given:
                return given
    return TOKEN_ACTOR if token_required else ANONYMOUS_ACTOR


def audit_key(configured: str, data_dir: Path) -> bytes:
    """The HMAC key: `configured` (Settings.audit_key) when set, else the key file under `data_dir`, created
    once with 32 random bytes and mode 0600 (a file left readable by others is made 0600 again). StoreDamaged
    naming the file when it holds something that is no key."""
    if configured:
        return configured.encode("utf-8", "surrogateescape")
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            _make_key(path)  # then read back: a process starting at the same moment may have made it first
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreDamaged(_unreadable(path, getattr(exc, "strerror", None) or "not text")) from None
        else:
            break
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    if not text:
        # A release before this one wrote the key into the file it had just created: a kill in between left it
        # empty, and no hash was ever made with a key that was never written. A new one takes its place.
        path.unlink(missing_ok=True)
        return audit_key(configured, data_dir)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise StoreDamaged(_unreadable(path, "not a hexadecimal key")) from None
    if len(key) < 16:
        raise StoreDamaged(_unreadable(path, f"a key of {len(key)} bytes, under 16"))
    return key


def _make_key(path: Path) -> None:
    """Writes a new key to `path` whole or not at all (a temporary file, synced, then linked into place);
    nothing when another process's key is there first."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_bytes(32).hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _unreadable(path: Path, reason: str) -> str:
    return (f"the audit key {path} is damaged ({reason}): restore it from a backup, or remove it to make a new "
            "one (the keyed hashes of people erased before then can no longer be compared with it), or set "
            "INFLUENCERS_AUDIT_KEY")


def keyed_hash(key: bytes, subject: str) -> str:
    """HMAC-SHA256 of `subject` with `key`, hex."""
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()


def new_entry(action: int, actor: str, before: Iterable[str] = (), after: Iterable[str] = (),
              names: Mapping[str, str] | None = None, videos: int = 0, faces: int = 0,
              undoable: bool = False) -> identity_pb2.AuditEntry:
    """An audit entry stamped now (UTC) with a fresh audit id; `names`: the display names of the ids, only
    those that have one are kept."""
    before, after = list(dict.fromkeys(before)), list(dict.fromkeys(after))
    names = names or {}
    entry = identity_pb2.AuditEntry(
        audit_id=uuid.uuid4().hex, action=action, actor=actor, before_ids=before, after_ids=after,  # type: ignore[arg-type]
        names={i: names[i] for i in {*before, *after} if names.get(i)}, videos=videos, faces=faces,
        undoable=undoable)
    entry.time.GetCurrentTime()
    return entry
