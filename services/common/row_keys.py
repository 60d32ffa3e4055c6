"""The store key of a manifest row that names no file: its `Video URL` cell is empty. Analytics keys a row by
where its bytes were read (its location), and such a row has none; it is keyed by its manifest's folder, file
name and line instead, so that videos.csv lists it as it lists every manifest row (rows in = rows out), and the same
manifest run again lists it once. Such a key is never shown as a location."""

from __future__ import annotations

PREFIX = "manifest-row:"


def manifest_row_key(base_dir: str, line: int, index: int, manifest: str = "") -> str:
    """The key of the row at `line` of the manifest `manifest` (its file name) in `base_dir` (1-based, its
    header line 1), or, when the caller gave no line (0), of the `index`-th row (0-based) of its submission.
    Without a manifest name (a caller that read no file), the folder alone: such rows of two submissions from
    one folder share their keys, as all did before the name was sent."""
    row = f"line {line}" if line > 0 else f"row {index + 1}"
    where = f"{base_dir.rstrip('/')}/{manifest}" if manifest else base_dir
    return f"{PREFIX}{where}:{row}"


def is_manifest_row_key(location: str) -> bool:
    """Whether a store's location is a manifest row's key (manifest_row_key), not where bytes were read."""
    return location.startswith(PREFIX)


def folder_form(key: str) -> str:
    """The key a row keyed `key` (manifest_row_key naming its manifest) had before manifests were named: its
    folder and line alone, as a store from before, or an ingest replica of that release, keys it. "" when `key`
    names no manifest file (or is no manifest row key)."""
    if not is_manifest_row_key(key):
        return ""
    where, colon, row = key[len(PREFIX):].rpartition(":")
    folder, slash, name = where.rpartition("/")
    if not colon or not slash or not name:
        return ""
    return f"{PREFIX}{folder or '/'}:{row}"


def named_forms(key: str) -> tuple[str, str]:
    """The (head, tail) of every key that names a manifest file in the folder of `key` (a key of the folder
    and line alone, folder_form's), at the same line: such a key is head + file name + tail. ("", "") when
    `key` is no manifest row key."""
    if not is_manifest_row_key(key):
        return "", ""
    where, colon, row = key[len(PREFIX):].rpartition(":")
    if not colon:
        return "", ""
    return f"{PREFIX}{where.rstrip('/')}/", f":{row}"


def manifest_head(base_dir: str, manifest: str) -> str:
    """What every key of a row of the manifest `manifest` in `base_dir` begins with (manifest_row_key); its rest
    is the row's line ("line N", or "row N")."""
    return manifest_row_key(base_dir, 1, 0, manifest).removesuffix("line 1")


def is_row_of(key: str, head: str) -> bool:
    """Whether `key` is the key of a row of the manifest whose keys begin with `head` (manifest_head)."""
    what, _, number = key.removeprefix(head).partition(" ")
    return key.startswith(head) and what in ("line", "row") and number.isdigit()
