"""Endpoints from a directory of Kubernetes YAML (a GitOps checkout).

Reads ``*.yaml`` / ``*.yml`` below a directory (or one file), every document
of each, and ``List`` items, then converts Services and Ingresses with the
same pure converters as the cluster watcher.  A manifest has no status and no
cluster IP, so targets come from the ``target`` annotation or
``options.default_targets``.

* Files are read in sorted path order and hidden files and directories
  (``.git``) are skipped, so the result never depends on the file system.
* Other kinds are skipped quietly, and so are ``kind: Service`` of other API
  groups (Knative's ``serving.knative.dev``), which are not core Services.
* Broken YAML is reported with its file and line; only the broken document
  is lost: the others of that file and every other file still load.
  ``errors`` being non-empty means the endpoint set may be incomplete: a
  caller must not delete records on the strength of it.
* Speed (20,000 objects in about a second): documents are split at ``---``
  lines first, and one whose ``kind:`` lines all name other kinds
  (Deployments, CRDs: the bulk of a GitOps tree) is skipped unparsed, so a
  syntax error inside it goes unreported.  Each document is parsed by
  yaml-rs (YAML 1.2 scalars: an unquoted ``yes`` stays a string); a
  document it refuses is parsed again by PyYAML (YAML 1.1), which either
  accepts it (duplicate keys: the last wins) or names the line at fault.
* The same object (kind, namespace, name) defined twice is reported and the
  later definition ignored, as the API server would hold only one.
* A missing path raises :class:`ConfigError` rather than returning an empty
  set, for the same reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
import yaml_rs

try:  # libyaml is ~10x faster than the pure-Python parser; fall back when absent.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

from dnssync.errors import ConfigError, InvalidInput
from dnssync.kinds import KINDS
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import CONVERTERS
from dnssync.sources.manifestcache import Converted, ManifestCache, Piece
from dnssync.yamlnodes import ExpansionTooLarge, check_expansion

SUFFIXES: Final = (".yaml", ".yml")

#: The registry's kinds by their Kubernetes Kind, as a manifest names them.
_BY_KIND: Final = {k.kind: k for k in KINDS}
# List kinds whose items may omit their own kind (raw API list output).
_LIST_ITEM_KIND: Final = {"List": ""} | {f"{k.kind}List": k.kind for k in KINDS}


@dataclass(frozen=True, slots=True)
class ManifestResult:
    """Every endpoint the manifests ask for, and every problem found."""

    endpoints: tuple[Endpoint, ...]
    errors: tuple[InvalidInput, ...]
    #: Service and Ingress objects read (whether the filter selected them or not).
    objects: int


def manifest_files(path: Path) -> list[Path]:
    """The YAML files under ``path`` in sorted order, hidden entries skipped."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"manifests path {str(path)!r} is neither a file nor a directory")
    found: list[Path] = []

    def fail(error: OSError) -> None:
        raise ConfigError(f"manifests path {str(path)!r} can't be read: {error}")

    for root, dirs, files in os.walk(path, onerror=fail):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(root, f) for f in files if not f.startswith(".") and f.lower().endswith(SUFFIXES)
        )
    return sorted(found, key=lambda p: p.relative_to(path).parts)


# A document starts at a `---` line; the parser agrees (a `---` at column 0
# ends any scalar), so splitting there first lets a broken document cost only
# itself, and lets documents of other kinds be skipped without parsing them.
_DOC_START: Final = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
# `kind: X` on a line of its own (block style).  A document whose kind lines
# are all of other kinds (Deployments, CRDs: the bulk of a GitOps tree) is
# skipped unparsed; one with no such line at all (flow or JSON style) is parsed.
_KIND_LINE: Final = re.compile(
    r"""^[ \t-]*["']?kind["']?[ \t]*:[ \t]*["']?([A-Za-z0-9]+)""", re.MULTILINE
)
_WANTED_KINDS: Final = frozenset(_BY_KIND) | frozenset(_LIST_ITEM_KIND)
_DIRECTIVES_ONLY: Final = re.compile(r"^(?:[ \t]*(?:%[^\n]*|#[^\n]*)?\r?\n?)*$")

_STR_TAG: Final = "tag:yaml.org,2002:str"
_NULL_TAG: Final = "tag:yaml.org,2002:null"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_SEQ_TAG: Final = "tag:yaml.org,2002:seq"
_MAP_TAG: Final = "tag:yaml.org,2002:map"
# SafeLoader's implicit scalar types by first character, as tuples.
_IMPLICIT: Final[dict[str | None, tuple[tuple[str, re.Pattern[str]], ...]]] = {
    first: tuple(resolvers) + tuple(yaml.resolver.Resolver.yaml_implicit_resolvers.get(None, ()))
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}

# Plain scalars repeat a lot (keys, kinds, ports): remember their tags.
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX: Final = 1 << 16


class _FastLoader(_BaseLoader):
    """libyaml's parser with a leaner tag resolver.

    Same tags as SafeLoader (YAML 1.1 implicit types), but without the path
    resolver bookkeeping it calls for every node, which costs as much as the
    parsing itself.
    """

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return _STR_TAG  # quoted: always a string
            known = _RESOLVED.get(value)
            if known is not None:
                return known
            tag = _STR_TAG
            for candidate, pattern in _IMPLICIT.get(value[:1], ()):
                if pattern.match(value):
                    tag = candidate
                    break
            if len(_RESOLVED) < _RESOLVED_MAX:
                _RESOLVED[value] = tag
            return tag
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """``(first line, text)`` of each document-sized piece of ``text``."""
    starts = [m.start() for m in _DOC_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(text))
    line = 0
    carried_from: tuple[int, int] | None = None  # directives wait for their document
    for begin, end in itertools.pairwise(starts):
        first, first_line = (begin, line) if carried_from is None else carried_from
        line += text.count("\n", begin, end)
        if end < len(text) and _DIRECTIVES_ONLY.match(text, begin, end) and "%" in text[begin:end]:
            carried_from = (first, first_line)
            continue
        carried_from = None
        yield first_line, text[first:end]


def _may_hold_objects(chunk: str) -> bool:
    kinds = _KIND_LINE.findall(chunk)
    return not kinds or any(kind in _WANTED_KINDS for kind in kinds)


class _Builder:
    """Python values from composed YAML nodes, like SafeLoader but faster.

    SafeLoader's generic constructor costs more than parsing itself; this
    builds dicts, lists and scalars directly (with YAML 1.1 scalar types, so an
    unquoted ``ttl: 300`` is an int and reported as the API server would), and
    shares aliased nodes instead of expanding them.
    """

    def __init__(self) -> None:
        self.constructor = yaml.constructor.SafeConstructor()
        self.memo: dict[int, Any] = {}

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            if node.tag == _NULL_TAG:
                return None
            construct = yaml.constructor.SafeConstructor.yaml_constructors.get(node.tag)
            if construct is None:
                return node.value  # an application tag (`!Ref x`): keep the text
            try:
                return construct(self.constructor, node)
            except (yaml.YAMLError, ValueError, TypeError):
                return node.value
        known = self.memo.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            mapping: dict[Any, Any] = {}
            self.memo[id(node)] = mapping
            merges: list[yaml.Node] = []
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    merges.append(value_node)
                    continue
                key = key_node.value if key_node.tag == _STR_TAG else self.key(key_node)
                # Inline the commonest case, a plain string, to save a call per node.
                if value_node.tag == _STR_TAG and isinstance(value_node, yaml.ScalarNode):
                    mapping[key] = value_node.value
                else:
                    mapping[key] = self.build(value_node)
            for merge in merges:
                sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
                for source in sources:
                    merged = self.build(source)
                    if isinstance(merged, dict):
                        for k, v in merged.items():
                            mapping.setdefault(k, v)  # explicit keys win over `<<`
            return mapping
        sequence: list[Any] = []
        self.memo[id(node)] = sequence
        sequence.extend(self.build(item) for item in node.value)
        return sequence

    def key(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR_TAG:
            return node.value
        key = self.build(node)
        return repr(key) if isinstance(key, dict | list) else key


def _yaml_problem(error: yaml.YAMLError, first_line: int) -> str:
    """``invalid YAML at line N: problem (context at line M)`` in file lines."""

    def line(mark: object) -> str:
        return f"line {first_line + getattr(mark, 'line', 0) + 1}"

    problem = getattr(error, "problem", None)
    problem_mark = getattr(error, "problem_mark", None)
    if not problem or problem_mark is None:
        return f"invalid YAML after line {first_line + 1}: {error}"
    text = f"invalid YAML at {line(problem_mark)}: {problem}"
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    if context and context_mark is not None:
        text += f" ({context} at {line(context_mark)})"
    return text


def convert_document(document: object, options: SourceOptions) -> list[Converted]:
    """Every object of a registry kind in one parsed document, converted (pure)."""
    out = []
    for obj, kind, suffix in _objects(document, "", ""):
        label = _BY_KIND[kind].ref
        convert = CONVERTERS[label]
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        name = meta.get("name")
        result = convert(obj, options)
        out.append(
            Converted(
                label,
                str(meta.get("namespace") or "default"),
                str(name),
                isinstance(name, str),
                suffix,
                result.endpoints,
                result.errors,
            )
        )
    return out


def _objects(
    document: object, where: str, item_kind: str
) -> Iterator[tuple[Mapping[str, Any], str, str]]:
    if not isinstance(document, Mapping):
        return  # empty documents, stray scalars: nothing Kubernetes would apply
    kind = document.get("kind") or item_kind
    if not isinstance(kind, str):
        return
    if kind in _LIST_ITEM_KIND:
        items = document.get("items")
        if isinstance(items, list):
            for i, item in enumerate(items):
                yield from _objects(item, f"{where} items[{i}]", _LIST_ITEM_KIND[kind])
        return
    entry = _BY_KIND.get(kind)
    if entry is not None and entry.fits(document.get("apiVersion")):
        yield document, kind, where


class _Collector:
    """Collects objects and errors across files."""

    def __init__(self, options: SourceOptions, cache: ManifestCache | None = None) -> None:
        self.options = options
        self.cache = cache
        self.endpoints: list[Endpoint] = []
        self.errors: list[InvalidInput] = []
        self.objects = 0
        self.seen: dict[tuple[str, str, str], str] = {}

    def error(self, message: str, where: str) -> None:
        self.errors.append(InvalidInput(message, where=where))

    def load_file(self, file: Path) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            self.error(f"can't be read: {e}", str(file))
            return
        cached = self.cache.file(text) if self.cache is not None else None
        if cached is not None:
            self.take(file, [(piece, "") for piece in cached])
            return
        # One scan of the whole file decides whether every piece may take
        # the fast parser (the usual case); otherwise each piece is checked.
        checked = not _needs_yaml_1_1(text)
        pieces = [(line, c) if _may_hold_objects(c) else None for line, c in _chunks(text)]
        keys: list[str | None] = []
        converted = [self.piece(p, checked, keys) for p in pieces]
        kept = all(k is not None or p is None for k, p in zip(keys, pieces, strict=True))
        if self.cache is not None and kept:
            self.cache.put_file(text, keys)
        self.take(file, converted)

    def piece(
        self, chunk: tuple[int, str] | None, checked: bool, keys: list[str | None]
    ) -> tuple[Piece, str]:
        """One piece parsed and converted, or from the cache; its cache key goes
        to ``keys`` (None: skipped, or not kept)."""
        if chunk is None or self.cache is None:
            keys.append(None)
            return (None, "") if chunk is None else self.convert(chunk, checked)
        # The parse depends on the text and `checked` only: the first line
        # enters problems alone, and a piece with a problem is not kept.
        key = self.cache.key(chunk[1], checked)
        found = self.cache.get(key)
        if found is not None:
            keys.append(key)
            return found, ""
        piece, problem = self.convert(chunk, checked)
        assert piece is not None
        keys.append(key if not problem and self.cache.put(key, piece) else None)
        return piece, problem

    def convert(self, chunk: tuple[int, str], checked: bool) -> tuple[Piece, str]:
        documents, problem = parse_chunk(chunk, checked=checked)
        assert documents is not None
        return [convert_document(d, self.options) for d in documents], problem

    def take(self, file: Path, converted: list[tuple[Piece, str]]) -> None:
        """Collect one file's converted pieces in order, numbering its documents."""
        number = 0
        for documents, problem in converted:
            if documents is None:  # a piece skipped unparsed still counts
                number += 1
                continue
            for objects in documents:
                number += 1
                self.document(objects, f"{file} document {number}")
            if problem:
                self.error(problem, str(file))

    def document(self, objects: list[Converted], where: str) -> None:
        for obj in objects:
            item_where = where + obj.suffix
            self.objects += 1
            key = (obj.label, obj.namespace, obj.name)
            first = self.seen.get(key)
            if first is not None and obj.named:
                self.error(
                    f"{obj.label} {obj.namespace}/{obj.name} is defined again "
                    f"(first in {first}); ignored",
                    item_where,
                )
                continue
            self.seen.setdefault(key, item_where)
            self.endpoints.extend(obj.endpoints)
            self.errors.extend(
                type(e)(e.message, where=f"{item_where}: {e.where}" if e.where else item_where)
                for e in obj.errors
            )


#: One parsed piece: its documents (None: skipped unparsed) and a problem.
_Parsed = tuple[list[Any] | None, str]


# What YAML 1.1 (Kubernetes' parser, and PyYAML) may read differently from
# YAML 1.2 (yaml-rs): merge keys, directives, y/yes/no/on/off booleans, and
# number-like plain values other than plain integers, decimals and dotted
# addresses (octals, underscores, exponents, base 60...).  A document holding
# any of them goes to PyYAML, so the two parsers always agree.
_YAML_1_1_WORDS: Final = re.compile(
    r"[:-][ \t]+(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF)[ \t]*(?:#.*)?$", re.MULTILINE
)
_NUMBERISH: Final = re.compile(
    r"[:-][ \t]+([-+0-9._:eExXoObB]*[0-9][-+0-9._:eExXoObB]*)[ \t]*(?:#.*)?$", re.MULTILINE
)
# Hexadecimal: YAML 1.1 reads only a lowercase 0x as a number, the 1.2 parser both cases.
_HEXISH: Final = re.compile(r"[:-][ \t]+[-+]?0[xX][0-9a-fA-F_]*[ \t]*(?:#.*)?$", re.MULTILINE)
_BOTH_AGREE: Final = re.compile(
    r"[-+]?(?:0|[1-9][0-9]*)|[-+]?[0-9]+\.[0-9]+|[0-9]+(?:\.[0-9]+){2,}"
)


def _needs_yaml_1_1(text: str) -> bool:
    if "<<" in text or text.startswith("%") or "\n%" in text:
        return True
    if _YAML_1_1_WORDS.search(text) or _HEXISH.search(text):
        return True
    return any(not _BOTH_AGREE.fullmatch(m) for m in _NUMBERISH.findall(text))


def parse_chunk(chunk: tuple[int, str] | None, *, checked: bool = False) -> _Parsed:
    """Parse one document-sized piece of YAML.

    yaml-rs (Rust) parses a piece five times faster than libyaml through
    PyYAML; anything it refuses or leaves ambiguous (an empty document)
    goes through PyYAML, whose errors name the line and context.
    """
    if chunk is None:
        return None, ""
    first_line, text = chunk
    document = None
    # yaml-rs expands aliases (up to a million replays: most of a second per
    # document); a document with aliases goes to PyYAML, whose nodes are
    # measured before anything is built from them.
    aliased = "&" in text and "*" in text
    if not aliased and (checked or not _needs_yaml_1_1(text)):
        try:
            document = yaml_rs.loads(text)
        except (yaml_rs.YAMLDecodeError, ValueError, OverflowError, RecursionError):
            document = None
    if document is not None:
        return [document], ""
    builder = _Builder()
    documents: list[Any] = []
    try:
        for node in yaml.compose_all(text, Loader=_FastLoader):
            if aliased:
                check_expansion(node)
            documents.append(builder.build(node))
    except yaml.YAMLError as e:
        return documents, _yaml_problem(e, first_line)
    except ExpansionTooLarge as e:
        return documents, f"document after line {first_line + 1}: {e}"
    except RecursionError:
        return documents, f"YAML nested too deeply after line {first_line + 1}"
    return documents, ""


def manifests_digest(path: Path) -> str:
    """A digest of every file :func:`load_manifests` would read: their paths and bytes."""
    h = hashlib.sha256()
    for file in manifest_files(path):
        h.update(str(file).encode("utf-8", "surrogateescape") + b"\0")
        try:
            h.update(hashlib.sha256(file.read_bytes()).digest())
        except OSError as e:
            h.update(f"unreadable: {e.errno}".encode())
    return h.hexdigest()


def load_manifests(
    path: Path, options: SourceOptions, *, cache: ManifestCache | None = None
) -> ManifestResult:
    """Load every Service and Ingress under ``path`` and convert them.

    Raises :class:`ConfigError` only when ``path`` itself is missing or
    unreadable; every problem inside the files is returned in ``errors``.
    With a ``cache``, a file or document seen before is not parsed again
    (the result is the same), and the cache is saved at the end.
    """
    loader = _Collector(options, cache)
    files = manifest_files(path)
    for file in files:
        loader.load_file(file)
    if cache is not None:
        cache.save()
    endpoints = sorted(loader.endpoints, key=lambda e: (e.name, e.type, e.source))
    return ManifestResult(tuple(endpoints), tuple(loader.errors), loader.objects)


class ManifestFeed:
    """A manifests directory as a live feed: re-read when a file changes.

    The service polls the tree's file list and modification times (cheap)
    and reloads only when they differ, so a ``git pull`` in a GitOps checkout
    reaches DNS within one poll period.
    """

    def __init__(self, path: Path, options: SourceOptions, *, poll: float = 5.0) -> None:
        self.path = path
        self.options = options
        self.poll = poll
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._result = ManifestResult((), (), 0)
        self.version = 0
        self.reload()

    def _current_stamp(self) -> tuple[tuple[str, int, int], ...]:
        stamp = []
        try:
            files = manifest_files(self.path)
        except ConfigError:
            return ()
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            stamp.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(stamp)

    def reload(self) -> bool:
        """Re-read if anything changed; True when it did."""
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self._result = load_manifests(self.path, self.options)
        except ConfigError as e:
            # Not there yet (a git-sync still cloning) or unreadable: an input
            # error, so nothing is deleted, and the next poll tries again.
            self._result = ManifestResult((), (InvalidInput(str(e), where=str(self.path)),), 0)
        self.version += 1
        return True

    def endpoints(self) -> list[Endpoint]:
        return list(self._result.endpoints)

    def errors(self) -> list[InvalidInput]:
        return list(self._result.errors)

    def invalid(self) -> dict[str, list[InvalidInput]]:
        """The errors by file and document (``file document N``)."""
        out: dict[str, list[InvalidInput]] = {}
        for e in self._result.errors:
            out.setdefault(e.where.split(": ", 1)[0] or str(self.path), []).append(e)
        return out

    async def wait(self, timeout: float | None = None) -> set[ObjectRef]:
        """Poll until the files change or ``timeout`` passes."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            step = self.poll if deadline is None else min(self.poll, deadline - loop.time())
            if step > 0:
                await asyncio.sleep(step)
            if self.reload():
                return {e.source for e in self._result.endpoints}
            if deadline is not None and loop.time() >= deadline:
                return set()
