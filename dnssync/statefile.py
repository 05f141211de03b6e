"""Files in the state directory: checksummed JSON, replaced atomically.

The one-shot commands (``plan``, ``sync --once``) keep what they learnt
between runs under the state directory (zone snapshots, converted
manifests), so an unchanged input costs no work the next time.  A file is
whole and verified, or it is not used: its first line carries a SHA-256 of
the rest, so a truncated or edited file reads as damaged -- one log line,
and the caller starts afresh (a transfer, a parse).  Writes go to a
temporary file in the same directory and are renamed over the old one, so
a reader never sees half a file.  The state is a cache: a write that fails
(read-only home, full disk) is one log line and the run goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_MAGIC = b"dnssync-state 1 "
_HEAD_SIZE = len(_MAGIC) + 64 + 1  # magic, SHA-256 in hex, newline
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def file_key(*parts: str) -> str:
    """A file name for what ``parts`` identify (server, key, zone, ...)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def read(path: Path, what: str) -> Any | None:
    """The JSON value kept at ``path``; None when absent or damaged (then logged)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        log.warning("state: cannot read %s %s (%s); starting afresh", what, path, e.strerror)
        return None
    head, newline, body = data.partition(b"\n")
    digest = hashlib.sha256(body).hexdigest().encode()
    if not newline or head != _MAGIC + digest:
        log.warning("state: %s %s is damaged; starting afresh", what, path)
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # a checksum over bad JSON: not written by us
        log.warning("state: %s %s is damaged; starting afresh", what, path)
        return None


def write(path: Path, value: Any, what: str) -> None:
    """Replace ``path`` with ``value`` atomically (tmp + rename); failures are logged.

    No fsync: a file cut short by a crash fails its checksum and is ignored,
    which is all a cache needs.
    """
    write_chunks(path, [dumps(value)], what)


def write_chunks(path: Path, chunks: Iterable[str], what: str) -> None:
    """Like :func:`write`, for a body given in pieces (a JSON text cut anywhere):
    written and checksummed as they come, so a large one is never held whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # 0600: a snapshot shows every record of a zone, transfers of which are signed.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as f:
            f.write(bytes(_HEAD_SIZE))  # the checksum's place, filled in last
            digest = hashlib.sha256()
            for chunk in chunks:
                data = chunk.encode()
                digest.update(data)
                f.write(data)
            f.seek(0)
            f.write(_MAGIC + digest.hexdigest().encode() + b"\n")
        os.replace(tmp, path)
    except OSError as e:
        log.warning("state: cannot write %s %s (%s)", what, path, e.strerror)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    except BaseException:  # the chunks failed (or we were cancelled): leave no litter
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def dumps(value: Any) -> str:
    """``value`` as the compact JSON state files hold."""
    return _ENCODER.encode(value)


def members(items: Iterable[Any], *, pairs: bool = False) -> Iterator[str]:
    """The members of a JSON array of ``items`` (an object of ``(key, value)``
    pairs), a thousand at a time, for :func:`write_chunks` between its brackets."""
    left = iter(items)
    sep = ""
    while batch := list(itertools.islice(left, 1000)):
        yield sep + dumps(dict(batch) if pairs else batch)[1:-1]
        sep = ","


def remove(path: Path, what: str) -> None:
    """Drop ``path`` (it no longer holds the truth); failures are logged."""
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        log.warning("state: cannot remove %s %s (%s)", what, path, e.strerror)
