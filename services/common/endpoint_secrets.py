"""The secrets of the OTLP endpoint kept out of the exporter's own log lines.

The start-up line shows the endpoint with its secrets hidden (tracing.destination), but the exporter's lines while
the collector does not answer quote the request as urllib3 saw it: `Max retries exceeded with url:
/v1/traces?api_key=KEY`. An endpoint may carry a password or a token (a vendor's `?api_key=`, `user:password@`):
each line of the exporter's loggers has the endpoint, and its path and query, replaced by their hidden forms."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from services.common.url_secrets import secrets_hidden


def _tail(url: str) -> str:
    """`url` from its path on (path, query, fragment): what urllib3 names a request by."""
    parts = urlsplit(url)
    return url[url.find(parts.netloc) + len(parts.netloc):] if parts.netloc else url


class EndpointSecretsHidden(logging.Filter):
    """Rewrites each record's message with `url` (and its path and query) in the form secrets_hidden gives."""

    def __init__(self, url: str) -> None:
        super().__init__()
        hidden = secrets_hidden(url)
        # Longest first: the whole URL before its tail, which it contains.
        self._replaced = [(raw, shown) for raw, shown in ((url, hidden), (_tail(url), _tail(hidden)))
                          if raw and raw != shown]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._replaced:
            return True
        message = record.getMessage()
        shown = message
        for raw, hidden in self._replaced:
            shown = shown.replace(raw, hidden)
        if shown != message:
            record.msg, record.args = shown, None
        return True


def hide_endpoint_secrets(logger_names: tuple[str, ...], url: str) -> None:
    """Puts an EndpointSecretsHidden for `url` on each named logger, in place of one put there before (a process
    sets tracing up once; tests, again with other endpoints)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, EndpointSecretsHidden)]:
            logger.removeFilter(old)
        logger.addFilter(EndpointSecretsHidden(url))
