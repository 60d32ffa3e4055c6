"""What the CLI says: exit codes, the one-line errors on stderr, and lines for the person at the terminal."""

from __future__ import annotations

import errno
import logging
import re
import sys
from collections.abc import Mapping

import grpc
from sqlalchemy import exc as sa_exc
from tqdm import tqdm

from influencers.cli.config import uses_json_logs
from services.common.boundary import brief, escaped
from services.common.name_text import for_terminal
from services.common.rpc_words import REFUSALS, in_words, service_of
from services.common.settings import Settings, SettingsError
from services.common.url_secrets import links_hidden

# Every line of the CLI logs under this one name (the `logger` field of JSON logs), whichever module says it.
LOGGER = "influencers.cli"
USAGE_ERROR = 2  # exit code of usage and configuration errors (argparse's own)
SERVICE_ERROR = 1  # exit code when a service cannot be reached or fails a call (as when a row failed)
# Status codes that mean the caller asked for something wrong (an unknown id, a bad value: rpc_words' refusals)
# or sent a wrong token: a usage error.
_USAGE_CODES = REFUSALS | {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
SHOWN_CHARS = 200  # of a service's message or a path quoted in an error line
# A command a service's message suggests, in backticks: `influencers jobs`
_SUGGESTED = re.compile(r"`(influencers [a-z][a-z-]*[^`]*)`")
TOKEN_HINT = " (the CLI sends INFLUENCERS_TOKEN: set it to the services' token)"  # the CLI has no flag for it


def pasteable(text: str, reach: str) -> str:
    """`text` with `reach` (connect.reach_flags: " --ingest-port 50054", "" at the defaults) after every command
    it suggests in backticks, so that the suggestion works pasted as it is: a service's message ("`influencers
    jobs` lists its jobs") cannot know the host and ports its caller used."""
    return _SUGGESTED.sub(lambda m: f"`{m.group(1)}{reach}`", text) if reach else text


def start_hint(reach: str = "") -> str:
    """What to do when a service does not answer: start the services where this command looked for them."""
    return f" (is it running? `influencers serve{reach}` starts the services)"


class ServiceUnavailable(Exception):
    """A service did not answer; the message names it and its address."""


def json_logs_configured() -> bool:
    """Whether this process logs JSON (INFLUENCERS_LOG_FORMAT=json); a bad setting logs text, as
    configure_cli_logging does."""
    try:
        return uses_json_logs(Settings.from_env())
    except SettingsError:
        return False


# A user name and password before a host, in a link of any scheme, `file:/` or a path that made `https://` one slash;
# one whose password is hidden already (a database URL as masked_database_url shows it: `app:***@`) stays as it is.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*:/{1,2})(?![^/\s@'\"]*\*\*\*@)[^/\s@'\"]+@")


def secrets_hidden_in(message: str) -> str:
    """`message` with the password and tokens of every link it quotes hidden (url_secrets.links_hidden; a user
    name and password `***` in any scheme): a link given where a path goes (`--data-dir https://ann:pw@host/d`,
    `--truth`, a PHOTO) was echoed whole in the error, to the terminal and to JSON logs."""
    return _USERINFO.sub(r"\1***@", links_hidden(message))


def say_error(message: str, prog: str = "influencers") -> None:
    """The CLI's final error: `influencers: error: MESSAGE`, one line on stderr; with JSON logs a log record
    at ERROR instead (event MESSAGE), so that stderr stays JSON lines only for a log shipper. A link's password
    and tokens are hidden (secrets_hidden_in)."""
    message = secrets_hidden_in(message)
    if json_logs_configured():
        logging.getLogger(LOGGER).error(message)
    else:  # one line, whatever a path or word quoted in it holds (a line break, ESC sequences: for_terminal)
        print(f"{prog}: error: {for_terminal(message)}", file=sys.stderr)


def usage_error(message: str) -> int:
    say_error(message)
    return USAGE_ERROR


def cut(text: str) -> str:
    return brief(text, SHOWN_CHARS)


def service_error(command: str, exc: grpc.RpcError, targets: Mapping[str, str] | None = None,
                  reach: str = "") -> int:
    """One line for a failed call: the command, what happened in words (rpc_words.in_words: the service and its
    address from `targets`, {"identity": "127.0.0.1:50052"}, when the error names its service) and the service's
    message (cut short), any command it suggests given `reach`, the options this one reached it with. Exit 2
    when the request was wrong (an unknown id, a bad value, a bad token), 1 when the service failed or is
    down."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    hint = {grpc.StatusCode.UNAVAILABLE: start_hint(reach), grpc.StatusCode.UNAUTHENTICATED: TOKEN_HINT}.get(code, "")
    service = service_of(exc)
    words = in_words(code, cut(escaped(pasteable(details or "", reach))), service, (targets or {}).get(service, ""))
    say_error(f"{command}: {words}{hint}")
    return USAGE_ERROR if code in _USAGE_CODES else SERVICE_ERROR


def db_error(exc: Exception) -> str:
    """The driver's own words of a database error (SQLAlchemy wraps them with the statement and a link), on one
    line: psycopg's "Connection refused", a line break, a tab, "Is the server running ...?" showed escaped
    otherwise (`refused\\n\\tIs`), once `escaped()` had made it one line."""
    words = str(exc.orig) if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else str(exc)
    return " ".join(words.split())


def os_error(command: str, exc: OSError) -> int:
    """One line for a file or folder this command could not use (exit 2: the path given is unusable); on a full
    disk, what to do."""
    where = f" {cut(escaped(str(exc.filename)))}" if exc.filename is not None else ""
    then = "; free some space and run the same command again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    say_error(f"{command}: cannot use{where} ({exc.strerror or escaped(str(exc))}){then}")
    return USAGE_ERROR


def tell(line: str, json_logs: bool, level: int = logging.INFO, fields: dict[str, object] | None = None) -> None:
    """A line for the person at the terminal, on stderr (above a progress bar); with JSON logs, a log record
    instead, so that stderr stays JSON lines only, with `fields` (the job, the video) as its own."""
    if json_logs:
        logging.getLogger(LOGGER).log(level, line, extra=fields)
    else:
        tqdm.write(line, file=sys.stderr)
