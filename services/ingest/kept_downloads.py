"""Downloads kept for a row's next try: a row given back to the queue on a full disk (identity's face store,
analytics' database or the frame spool refusing it), or while identity or analytics is unreachable, once its remote
video was wholly downloaded and hashed would otherwise download it again at every try, the workers retrying every 1
to 30 s for as long as the disk is full or the service away.

Only a whole download is kept (fetch() hands over a file once its last byte is written and hashed; a download
that failed halfway is removed there), and it is taken again only if its bytes still hash to what was downloaded:
a file cut short or changed since is removed and the video fetched again. The files stay in this process's own
download folder (DATA/tmp/downloads/<process>/), so they go with the process, or with the sweep at the next
start after a kill.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict

from services.ingest.fetch import Fetched

log = logging.getLogger(__name__)


class KeptDownloads:
    """Whole downloads by URL, at most `most` (the oldest removed first: a row that never comes back here, taken
    by another replica, leaves no file for good)."""

    def __init__(self, most: int) -> None:
        self._most = max(1, most)
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, Fetched] = OrderedDict()

    def keep(self, url: str, fetched: Fetched) -> None:
        """Keeps `fetched` (a whole download of `url`) for the row's next try."""
        with self._lock:
            dropped = [self._kept.pop(url)] if url in self._kept else []
            self._kept[url] = fetched
            while len(self._kept) > self._most:
                dropped.append(self._kept.popitem(last=False)[1])
        for old in dropped:
            if old.path != fetched.path:
                old.release()

    def take(self, url: str) -> Fetched | None:
        """The download kept for `url`, now the caller's to release, if its bytes are still those downloaded;
        else None (a changed or missing file is removed)."""
        with self._lock:
            fetched = self._kept.pop(url, None)
        if fetched is None:
            return None
        if _digest(fetched) != fetched.sha256:
            log.warning("a download kept for its row's next try changed on disk (%s); fetching it again", fetched.path)
            fetched.release()
            return None
        return fetched

    def drop(self, url: str) -> None:
        """Removes the download kept for `url`, if any (its row needs it no more)."""
        with self._lock:
            fetched = self._kept.pop(url, None)
        if fetched is not None:
            fetched.release()

    def close(self) -> None:
        """Removes every kept download."""
        with self._lock:
            kept, self._kept = list(self._kept.values()), OrderedDict()
        for fetched in kept:
            fetched.release()

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)


def _digest(fetched: Fetched) -> str:
    """The SHA-256 (hex) of the file's bytes now, or "" when it cannot be read or is not of the size downloaded."""
    try:
        if fetched.path.stat().st_size != fetched.size:
            return ""
        with fetched.path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return ""
