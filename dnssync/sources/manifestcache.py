"""Converted manifests kept between CLI runs, by content hash.

A manifests directory is mostly unchanged from one ``plan`` / ``sync --once``
to the next; parsing and converting 10,000 Services costs most of a second.
This cache keeps, per document-sized piece of YAML (keyed by the SHA-256 of
its text and how it is parsed), the Services and Ingresses converted from it,
and per file (keyed by the SHA-256 of the whole text) the pieces it consists
of.  A file seen before is not even split; a changed file re-parses only its
changed pieces.  What comes out is exactly what parsing gives: the key holds
everything the conversion depends on (the piece's text, the source options,
the manifests path, and the size and time of the converting code), and a
piece whose parse reported a problem (its message names file lines) is never
kept.  The file lives in the state directory (:mod:`dnssync.statefile`); a
damaged one is one log line and a full parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnssync import statefile
from dnssync.errors import Ignored, InvalidInput, InvalidName
from dnssync.model import Endpoint, ObjectRef

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent.parent
#: The code a conversion depends on: any change to it makes the cache another one
#: (every module of ``sources/``, converters included, and these).
_CODE = (
    "kinds.py",
    "model.py",
    "names.py",
    "errors.py",
    "rtypes.py",
    "yamlnodes.py",
)
_ERRORS: dict[str, type[InvalidInput]] = {
    cls.__name__: cls for cls in (InvalidInput, InvalidName, Ignored)
}


@dataclass(frozen=True, slots=True)
class Converted:
    """One Service or Ingress of a document, converted.

    ``suffix`` places it inside its document (`` items[3]`` in a List);
    ``named`` says whether its name was a string (duplicates need one).
    """

    label: str
    namespace: str
    name: str
    named: bool
    suffix: str
    endpoints: tuple[Endpoint, ...]
    errors: tuple[InvalidInput, ...]
    #: The trimmed object, for objects converted once the whole directory is
    #: read (a route needs its Gateway, which may be in another file).
    raw: Mapping[str, Any] | None = None


#: One converted piece: per document, its objects (None: skipped unparsed).
Piece = list[list[Converted]] | None


def _code_stamp() -> str:
    parts = []
    sources = sorted(str(p.relative_to(_PACKAGE)) for p in _PACKAGE.glob("sources/**/*.py"))
    for name in (*sources, *_CODE):
        try:
            st = (_PACKAGE / name).stat()
        except OSError:
            return "unknown"
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return ",".join(parts)


def _endpoint(e: Endpoint) -> list[Any]:
    src = e.source
    return [e.name, e.type, list(e.targets), src.kind, src.namespace, src.name, e.ttl, e.ptr]


def _encode(piece: list[list[Converted]]) -> list[Any] | None:
    """The JSON form of a piece; None when it holds something not kept (an odd error)."""
    out = []
    for document in piece:
        objects = []
        for c in document:
            if any(type(e).__name__ not in _ERRORS for e in c.errors):
                return None
            eps = [_endpoint(e) for e in c.endpoints]
            errs = [[type(e).__name__, e.message, e.where] for e in c.errors]
            raw = None if c.raw is None else _json(c.raw)
            if c.raw is not None and raw is None:
                return None
            objects.append([c.label, c.namespace, c.name, c.named, c.suffix, eps, errs, raw])
        out.append(objects)
    return out


def _json(value: Mapping[str, Any]) -> Any:
    """``value`` as JSON data, or None when YAML gave it something JSON has not (a date)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def _decode(data: Any) -> list[list[Converted]]:
    """A piece from its JSON form; raises TypeError / ValueError / KeyError on a bad one."""
    piece = []
    for document in data:
        objects = []
        for label, namespace, name, named, suffix, eps, errs, raw in document:
            endpoints = tuple(
                Endpoint(n, t, tuple(targets), ObjectRef(kind, ns, src), ttl, ptr)
                for n, t, targets, kind, ns, src, ttl, ptr in eps
            )
            errors = tuple(_ERRORS[cls](message, where=where) for cls, message, where in errs)
            if not all(isinstance(x, str) for x in (label, namespace, name, suffix)):
                raise TypeError("bad object")
            if raw is not None and not isinstance(raw, dict):
                raise TypeError("bad object")
            objects.append(
                Converted(label, namespace, name, bool(named), suffix, endpoints, errors, raw)
            )
        piece.append(objects)
    return piece


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ManifestCache:
    """The converted pieces of one manifests path under one set of source options."""

    #: 3: each piece kept as its own JSON text, decoded when used, so a load
    #: never holds the whole cache as decoded lists (~27 MiB at 10k Services).
    FORMAT = 3

    def __init__(self, state_dir: Path, root: Path, options: object) -> None:
        self.identity = [str(root.resolve()), repr(options), _code_stamp()]
        self.path = state_dir / "manifests" / f"{statefile.file_key(*self.identity)}.json"
        self._old: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._files: dict[str, list[str | None]] = {}  # used in this load
        self._pieces: dict[str, str] = {}  # key -> the piece's JSON text
        self._added = False

    def _stored(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._old is None:
            self._old = ({}, {})
            data = statefile.read(self.path, "manifest cache")
            if not isinstance(data, dict):
                return self._old
            if data.get("format") == self.FORMAT and data.get("identity") == self.identity:
                files, pieces = data.get("files"), data.get("pieces")
                if isinstance(files, dict) and isinstance(pieces, dict):
                    self._old = (files, pieces)
        return self._old

    @staticmethod
    def key(text: str, checked: bool) -> str:
        """The key of one piece: its text and whether it was parsed as checked."""
        return _digest(("1" if checked else "0") + text)

    def get(self, key: str) -> list[list[Converted]] | None:
        data = self._pieces.get(key)
        if data is None:
            data = self._stored()[1].get(key)
        if data is None:
            return None
        try:
            piece = _decode(json.loads(data))
        except (TypeError, ValueError, KeyError, RecursionError):
            log.warning("state: manifest cache %s is damaged; parsing afresh", self.path)
            self._old = ({}, {})
            return None
        self._pieces[key] = data
        return piece

    def put(self, key: str, piece: list[list[Converted]]) -> bool:
        """Keep a piece; False when it cannot be kept (then its file is not kept either)."""
        data = _encode(piece)
        if data is None:
            return False
        self._pieces[key] = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self._added = True
        return True

    def file(self, text: str) -> list[Piece] | None:
        """The pieces of a file seen before (same text), else None."""
        digest = _digest(text)
        refs = self._files.get(digest) or self._stored()[0].get(digest)
        if not isinstance(refs, list):
            return None
        pieces: list[Piece] = []
        for ref in refs:
            piece = None if ref is None else self.get(ref)
            if ref is not None and piece is None:
                return None
            pieces.append(piece)
        self._files[digest] = refs
        return pieces

    def put_file(self, text: str, keys: list[str | None]) -> None:
        self._files[_digest(text)] = keys
        self._added = True

    def _json(self) -> Iterator[str]:
        """The cache as one JSON object, ``pieces`` last, a thousand pieces at a time:
        dumped whole, its piece texts quoted inside it were ~10 MiB at 10k Services."""
        value = {"format": self.FORMAT, "identity": self.identity, "files": self._files}
        yield statefile.dumps(value)[:-1] + ',"pieces":{'
        yield from statefile.members(self._pieces.items(), pairs=True)
        yield "}}"

    def save(self) -> None:
        """Write what this load used (so the file never grows past the directory)."""
        old_files, old_pieces = self._stored()
        pruned = len(self._files) != len(old_files) or len(self._pieces) != len(old_pieces)
        if self._added or pruned:
            statefile.write_chunks(self.path, self._json(), "manifest cache")
            self._old = (dict(self._files), dict(self._pieces))
            self._added = False
