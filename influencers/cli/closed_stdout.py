"""stdout that cannot take our output. A reader that left (`influencers review --all | head`, `influencers --version |
true`): nothing more to say, exit 0. A stdout that refuses a write (`influencers jobs > /dev/full`, an I/O error):
one line naming stdout, exit 1, as coreutils say `write error` (was: "jobs: cannot use (No space left on device)",
exit 2, naming no file; `--help` exited 0, argparse drops a failed write).

Light (os, sys, contextlib): the parser's --help and --version use it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

WRITE_ERROR = 1  # exit code when stdout refused a write (coreutils' 1; not 2: nothing in the command line was wrong)


class StdoutUnwritable(Exception):
    """stdout refused a write for another reason than a reader gone (a full disk, EIO). Not an OSError, so that no
    `except OSError` about a file of the command's (the data dir, --out) takes it for that file's."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(f"cannot write to stdout ({cause.strerror or cause})")


def silence_stdout() -> None:
    """Points stdout at /dev/null, so that the interpreter's last flush of what is still buffered for a closed
    pipe or a full disk fails on nothing (it would print 'Exception ignored ... BrokenPipeError' and exit 120)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _GuardedStdout:
    """sys.stdout, whose write and flush raise StdoutUnwritable for a refused write (BrokenPipeError stays itself:
    a reader gone is no error)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutUnwritable(exc) from exc

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutUnwritable(exc) from exc

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...: the stream's own
        return getattr(self._stream, name)


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """While inside, a write to sys.stdout that the file refuses raises StdoutUnwritable, wherever it is printed."""
    original = sys.stdout
    sys.stdout = _GuardedStdout(original)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = original


def written_to_stdout(text: str) -> StdoutUnwritable | None:
    """Writes `text` to stdout and flushes it: None once written, or when the reader left (stdout silenced then);
    the refusal when stdout refused it (stdout silenced too, for the interpreter's last flush)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        silence_stdout()
        return StdoutUnwritable(exc)
    return None
