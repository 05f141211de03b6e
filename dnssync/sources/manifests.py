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

import bisect
import hashlib
import itertools
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import yaml
import yaml_rs

try:  # libyaml is ~10x faster than the pure-Python parser; fall back when absent.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

from dnssync.errors import ConfigError, InvalidInput
from dnssync.kinds import NEEDED, WATCHED
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.convert import Conversion, SourceOptions
from dnssync.sources.index import CONVERTERS, LOOKS_UP, convert, convert_alone, ref_of, trim
from dnssync.sources.manifestcache import Converted, ManifestCache, Piece
from dnssync.yamlnodes import ExpansionTooLarge, check_expansion

SUFFIXES: Final = (".yaml", ".yml")

#: The kinds read (the registry's and those its converters need) by their
#: Kubernetes Kind, as a manifest names them.
_BY_KIND: Final = {k.kind: k for k in WATCHED.values()}
# List kinds whose items may omit their own kind (raw API list output).
_LIST_ITEM_KIND: Final = {"List": ""} | {f"{k.kind}List": k.kind for k in WATCHED.values()}
#: One file read: its converted pieces in order, or why it could not be read.
Loaded = list[tuple[Piece, str]] | str
#: Kinds converted once the whole directory is read: those whose converter looks
#: other objects up, and the objects they look up.
_DEFERRED: Final = LOOKS_UP | frozenset(NEEDED)


@dataclass(frozen=True, slots=True)
class ManifestResult:
    """Every endpoint the manifests ask for, and every problem found."""

    endpoints: tuple[Endpoint, ...]
    errors: tuple[InvalidInput, ...]
    #: Service and Ingress objects read (whether the filter selected them or not).
    objects: int


def read_text(file: Path | str) -> str:
    """A manifest file's text, as every reader reads it (a BOM dropped)."""
    return Path(file).read_text(encoding="utf-8-sig")


def unreadable(error: OSError | UnicodeDecodeError) -> str:
    """The problem reported for a file that can't be read."""
    return f"can't be read: {error}"


def manifest_files(path: Path, links: set[str] | None = None) -> list[Path]:
    """The YAML files under ``path`` in sorted order, hidden entries skipped.

    Links to files are read, links to directories are not followed; ``links``
    gets every link with a manifest's name met on the way (either kind).
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"manifests path {str(path)!r} is neither a file nor a directory")
    found: list[Path] = []

    def fail(error: OSError) -> None:
        raise ConfigError(f"manifests path {str(path)!r} can't be read: {error}")

    for root, dirs, files in os.walk(path, onerror=fail):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        named = [
            Path(root, f) for f in files if not f.startswith(".") and f.lower().endswith(SUFFIXES)
        ]
        found.extend(named)
        if links is not None:
            linked_dirs = (Path(root, d) for d in dirs if d.lower().endswith(SUFFIXES))
            links.update(str(p) for p in (*named, *linked_dirs) if p.is_symlink())
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


def _doc_starts(text: str) -> list[int]:
    """Where :data:`_DOC_START` matches (``str.find`` is ~10x faster on a big file)."""
    starts: list[int] = []
    at = 0 if text.startswith("---") else text.find("\n---") + 1
    if at == 0 and not text.startswith("---"):
        return starts
    while True:
        after = at + 3
        if after == len(text) or text[after] in " \t\r\n":
            starts.append(at)
        at = text.find("\n---", at) + 1
        if at == 0:
            return starts


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """``(first line, text)`` of each document-sized piece of ``text``."""
    return ((line, text[begin:end]) for begin, end, line in _spans(text))


def _spans(text: str) -> Iterator[tuple[int, int, int]]:
    """``(begin, end, first line)`` of each document-sized piece of ``text``."""
    starts = _doc_starts(text)
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
        yield first, end, first_line


def _common_prefix(a: str, b: str, limit: int) -> int:
    """How many first characters ``a`` and ``b`` share (at most ``limit``), compared
    in blocks (C speed) and then by halves."""
    lo = 0
    while lo < limit:
        hi = min(lo + 65536, limit)
        if a[lo:hi] != b[lo:hi]:
            while hi - lo > 1:  # a[:lo] == b[:lo], a[lo:hi] != b[lo:hi]
                mid = (lo + hi) // 2
                if a[lo:mid] == b[lo:mid]:
                    lo = mid
                else:
                    hi = mid
            return lo
        lo = hi
    return limit


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many last characters ``a`` and ``b`` share (at most ``limit``)."""
    la, lb = len(a), len(b)
    lo = 0
    while lo < limit:
        hi = min(lo + 65536, limit)
        if a[la - hi : la - lo] != b[lb - hi : lb - lo]:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
                    lo = mid
                else:
                    hi = mid
            return lo
        lo = hi
    return limit


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
    """Every object of a kind read in one parsed document, converted (pure).

    An object of a kind looked up (a Node, a Gateway), or one whose converter
    did look something up (a NodePort or headless Service, a route), is kept
    trimmed instead (``raw``): it is converted once every file is read, and
    its errors come after those of the objects converted as read.
    """
    out = []
    for obj, kind, suffix in _objects(document, "", ""):
        label = _BY_KIND[kind].ref
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        ref = ref_of(label, obj if isinstance(meta, Mapping) else {})
        named = isinstance(name, str)
        result = None
        if label in LOOKS_UP and label not in NEEDED:
            # Converted now when it looks nothing up (a Service with a target
            # annotation): its result cannot depend on the rest of the
            # directory, and holding every Service until the end cost ~90 MiB
            # at 100k.  One that does look up waits for every file.
            result = convert_alone(label, obj, options)
        elif label not in _DEFERRED:
            result = CONVERTERS[label](obj, options)
        if result is None:
            raw = trim(label, obj) if isinstance(meta, Mapping) else dict(obj)
            out.append(Converted(label, ref.namespace, str(name), named, suffix, (), (), raw))
            continue
        out.append(
            Converted(
                label, ref.namespace, str(name), named, suffix, result.endpoints, result.errors
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

    def __init__(self, options: SourceOptions, cache: ManifestCache | Pieces | None = None) -> None:
        self.options = options
        self.cache = cache
        self.endpoints: list[Endpoint] = []
        self.errors: list[InvalidInput] = []
        self.objects = 0
        self.seen: dict[tuple[str, str, str], str] = {}
        #: Objects converted at the end (routes), and what they look up (Gateways).
        self.deferred: list[tuple[ObjectRef, Mapping[str, Any], str]] = []
        self.needed: dict[ObjectRef, Mapping[str, Any]] = {}

    def error(self, message: str, where: str) -> None:
        self.errors.append(InvalidInput(message, where=where))

    def load_file(self, file: Path) -> None:
        self.add(file, self.read(file))

    def add(self, file: Path | str, loaded: Loaded) -> None:
        """Collect one file as :meth:`read` gave it (the order of files is the caller's)."""
        if isinstance(loaded, str):
            self.error(loaded, str(file))
        else:
            self.take(file, loaded)

    def read(self, file: Path | str) -> Loaded:
        """One file read and converted (pure but for the read: any thread)."""
        try:
            text = read_text(file)
        except (OSError, UnicodeDecodeError) as e:
            return unreadable(e)
        return self.parse(text)

    def parse(self, text: str) -> list[tuple[Piece, str]]:
        """One file's text converted, piece by piece (from the cache when it has them)."""
        cached = self.cache.file(text) if self.cache is not None else None
        if cached is not None:
            return [(piece, "") for piece in cached]
        # One scan of the whole file decides whether every piece may take
        # the fast parser (the usual case); otherwise each piece is checked.
        # Kept in memory (the feed), a piece seen before needs neither: only
        # the new ones are checked, one by one (parse_chunk gives the same).
        return self.parse_chunks(text, _chunks(text))

    def parse_chunks(self, text: str, chunks: Iterable[tuple[int, str]]) -> list[tuple[Piece, str]]:
        """These pieces of ``text`` converted (all of its pieces, or a run of them)."""
        known = self.cache.previous if isinstance(self.cache, Pieces) else None
        checked = known is None and not _needs_yaml_1_1(text)
        keys: list[str | None] = []
        converted = []
        kept = True
        # One piece at a time: its text goes once converted (a whole file's
        # pieces held at once were ~30 MiB at 100k Services).
        for line, c in chunks:
            piece = (
                (line, c) if (known is not None and c in known) or _may_hold_objects(c) else None
            )
            converted.append(self.piece(piece, checked, keys))
            kept = kept and (keys[-1] is not None or piece is None)
        if self.cache is not None and kept:
            self.cache.put_file(text, keys)
        return converted

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

    def take(self, file: Path | str, converted: list[tuple[Piece, str]]) -> None:
        """Collect one file's converted pieces in order, numbering its documents."""
        number = 0
        for documents, problem in converted:
            number = self.take_piece(file, number, documents, problem)

    def take_piece(self, file: Path | str, number: int, documents: Piece, problem: str) -> int:
        """Collect one piece whose documents follow document ``number``; the last one's."""
        if documents is None:  # a piece skipped unparsed still counts
            return number + 1
        for objects in documents:
            number += 1
            self.document(objects, f"{file} document {number}")
        if problem:
            self.error(problem, str(file))
        return number

    def document(self, objects: list[Converted], where: str) -> None:
        for obj in objects:
            item_where = where + obj.suffix
            self.objects += obj.label not in NEEDED
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
            if obj.raw is not None:
                ref = ObjectRef(obj.label, obj.namespace, obj.name)
                if obj.label in NEEDED:
                    self.needed.setdefault(ref, obj.raw)
                else:
                    self.deferred.append((ref, obj.raw, item_where))
                continue
            self.take_errors(obj.errors, item_where)
            self.endpoints.extend(obj.endpoints)

    def take_errors(self, errors: tuple[InvalidInput, ...], where: str) -> None:
        self.errors.extend(_placed(errors, where))

    def finish(self) -> None:
        """Convert the objects that look others up, now that every file is read."""
        for ref, raw, where in self.deferred:
            result, _ = convert(ref, raw, self.options, self.needed)
            self.endpoints.extend(result.endpoints)
            self.take_errors(result.errors, where)

    def result(self) -> ManifestResult:
        """Everything collected, once every file is in (runs :meth:`finish`)."""
        self.finish()
        endpoints = sorted(self.endpoints, key=_ENDPOINT_ORDER)
        return ManifestResult(tuple(endpoints), tuple(self.errors), self.objects)


def _ENDPOINT_ORDER(e: Endpoint) -> tuple[str, str, ObjectRef]:
    return (e.name, e.type, e.source)


def _moved(
    endpoints: tuple[Endpoint, ...], removed: list[Endpoint], added: list[Endpoint]
) -> tuple[Endpoint, ...] | None:
    """Sorted ``endpoints`` less ``removed`` (by identity) plus ``added``, as a sort
    of them all would give; None when an added one ties with one kept (its place
    among equals would depend on the order of files)."""
    out = list(endpoints)
    for e in removed:
        i = bisect.bisect_left(out, _ENDPOINT_ORDER(e), key=_ENDPOINT_ORDER)
        while i < len(out) and out[i] is not e:
            i += 1
        if i == len(out):
            return None
        del out[i]
    for e in added:
        key = _ENDPOINT_ORDER(e)
        i = bisect.bisect_left(out, key, key=_ENDPOINT_ORDER)
        if i < len(out) and _ENDPOINT_ORDER(out[i]) == key and all(out[i] is not a for a in added):
            return None
        bisect.insort_right(out, e, key=_ENDPOINT_ORDER)
    return tuple(out)


def _placed(errors: Iterable[InvalidInput], where: str) -> Iterator[InvalidInput]:
    """Errors of an object, placed in its file and document."""
    return (type(e)(e.message, where=f"{where}: {e.where}" if e.where else where) for e in errors)


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
    loader = _Collector(replace(options, manifests=True), cache)
    for file in manifest_files(path):
        loader.load_file(file)
    if cache is not None:
        cache.save()
    return loader.result()


class Pieces:
    """One file's converted pieces by text, kept in memory from one parse of it to the next.

    The same interface as :class:`ManifestCache` (what the collector asks of a
    cache), without encoding: a piece whose text did not change comes back as
    the very same objects, so the next combine's conversions of the objects
    in it keep their conversions too.  A piece with a problem is not kept
    (its message names file lines, which move).
    """

    def __init__(self, previous: Mapping[str, Piece] | None = None) -> None:
        self.previous: Mapping[str, Piece] = previous or {}
        self.kept: dict[str, Piece] = {}

    @staticmethod
    def key(text: str, checked: bool) -> str:
        return text  # `checked` only spares parse_chunk a scan: the parse is the same

    def get(self, key: str) -> list[list[Converted]] | None:
        found = self.previous.get(key)
        if found is not None:
            self.kept[key] = found
        return found

    def put(self, key: str, piece: list[list[Converted]]) -> bool:
        self.kept[key] = piece
        return True

    def file(self, text: str) -> list[Piece] | None:
        return None  # the feed compares whole texts itself

    def put_file(self, text: str, keys: list[str | None]) -> None:
        return None


#: A conversion kept, and what each lookup it made found then.
_Kept = tuple[Conversion, tuple[tuple[ObjectRef, Any], ...]]


class _Lookups:
    """What a deferred conversion's lookups find in one combine, comparable by identity.

    A conversion depends only on the object and on what its converter looked
    up; parsed objects stay the same dicts between combines, so a conversion
    whose lookups find the very same objects again is reused as it is.
    """

    def __init__(self, needed: Mapping[ObjectRef, Mapping[str, Any]], last: _Lookups | None):
        self.needed = needed
        self.groups: dict[tuple[str, str], tuple[Mapping[str, Any], ...]] = {}
        self.last_groups = last.groups if last is not None else {}

    def found(self, asked: ObjectRef) -> Any:
        """The object asked for, or every object of a listing as one tuple (the last
        combine's tuple when it holds the same objects, so ``is`` compares them)."""
        if asked.name:
            return self.needed.get(asked)
        key = (asked.kind, asked.namespace)
        group = self.groups.get(key)
        if group is None:
            listed = sorted((r, o) for r, o in self.needed.items() if (r.kind, r.namespace) == key)
            group = tuple(o for _, o in listed)
            old = self.last_groups.get(key)
            if old is not None and len(old) == len(group) and all(map(operator.is_, old, group)):
                group = old
            self.groups[key] = group
        return group

    def convert(
        self, ref: ObjectRef, raw: Mapping[str, Any], options: SourceOptions, kept: _Kept | None
    ) -> _Kept:
        if kept is not None and all(self.found(a) is seen for a, seen in kept[1]):
            return kept
        result, asked = convert(ref, raw, options, self.needed)
        return result, tuple((a, self.found(a)) for a in asked)


@dataclass(frozen=True, slots=True, eq=False)
class Parsed:
    """A file's text as last parsed, kept so that an edit of it parses the edit only."""

    text: str
    spans: tuple[tuple[int, int], ...]  # (offset, first line) of each piece
    loaded: list[tuple[Piece, str]]


def _edited(
    old: Parsed, new: str, parse: Callable[[str, list[tuple[int, str]]], list[tuple[Piece, str]]]
) -> tuple[list[tuple[Piece, str]], list[tuple[int, int]], range] | None:
    """``new``'s pieces when it differs from ``old.text`` inside one run of pieces: the
    pieces before and after are kept (those after shifted), that run parsed again.
    Also the spans, and the old pieces replaced.  None: parse the whole text."""
    text, starts = old.text, [b for b, _ in old.spans]
    limit = min(len(text), len(new))
    prefix = _common_prefix(text, new, limit)
    cut = len(text) - _common_suffix(text, new, limit - prefix)
    ends = [*starts[1:], len(text)]
    # A piece whose end and the `---` line after it lie in the shared start is kept,
    # and so is one whose start and the newline before lie in the shared end.
    i = bisect.bisect_right(ends, prefix - 4)
    j = bisect.bisect_left(starts, cut + 1, lo=i)
    delta = len(new) - len(text)
    begin, end = starts[i], (starts[j] + delta if j < len(starts) else len(new))
    if end <= begin:
        return None
    middle = new[begin:end]
    base = old.spans[i][1]
    spans = [(begin + b, base + line) for b, _, line in _spans(middle)]
    chunks = [(base + line, middle[b:e]) for b, e, line in _spans(middle)]
    last = chunks[-1][1]
    if j < len(starts) and _DIRECTIVES_ONLY.match(last) and "%" in last:
        return None  # a whole load carries these directives on to the next piece
    lines = middle.count("\n") - text.count("\n", starts[i], ends[j - 1] if j else 0)
    tail = old.loaded[j:]
    if lines and any(problem for _, problem in tail):
        return None  # their messages name lines, which moved
    loaded = [*old.loaded[:i], *parse(middle, chunks), *tail]
    spans = [*old.spans[:i], *spans, *((b + delta, line + lines) for b, line in old.spans[j:])]
    return loaded, spans, range(i, j)


@dataclass(slots=True, eq=False)
class _Unit:
    """One piece of a file (or an unreadable file's error) collected alone: exactly
    its share of a whole load when no other piece defines any of its objects (the
    usual case), so it is reused as is while the piece and its place stay."""

    file: str
    number: int  # documents of the file before it; -1: the file's read error
    piece: Piece | str
    problem: str
    keys: frozenset[tuple[str, str, str]]
    errors: list[InvalidInput]
    endpoints: list[Endpoint]
    deferred: list[tuple[ObjectRef, Mapping[str, Any], str]]
    needed: dict[ObjectRef, Mapping[str, Any]]
    objects: int
    #: Its deferred objects converted, and the generation of lookups they saw.
    finished: tuple[int, list[Endpoint], list[InvalidInput]] | None = None
    #: Each deferred object's conversion, reused while its lookups find the same.
    conversions: list[_Kept] = field(default_factory=list)

    def replay(self, loader: _Collector) -> None:
        """Collect it in a whole load's order (when its objects are defined again)."""
        if isinstance(self.piece, str):
            loader.error(self.piece, self.file)
        else:
            loader.take_piece(self.file, self.number, self.piece, self.problem)


class FileReader:
    """Reads and converts single files of a manifests tree, and combines them.

    :class:`~dnssync.sources.manifestfeed.ManifestFeed` keeps what :meth:`parse`
    gave for every file and, after an edit, reads only the files that changed;
    :meth:`combine` then gives exactly what :func:`load_manifests` gives for the
    same files (the same steps: duplicates, errors in file order, and routes
    converted against the Gateways of every file), at the cost of what changed:
    a piece (document) that shares no object with another is collected once and
    reused, and its Services and routes are converted again only when the
    objects they may look up (Gateways, Namespaces, Nodes) changed.
    """

    def __init__(self, options: SourceOptions) -> None:
        self.options = replace(options, manifests=True)
        self._lookups: _Lookups | None = None
        self._last: ManifestResult | None = None  # the last result given
        self._units: dict[tuple[str, int], _Unit] = {}
        self._by_file: dict[str, tuple[Loaded, list[_Unit]]] = {}
        self._counts: dict[tuple[str, str, str], int] = {}  # units defining each object
        self._shared: set[tuple[str, str, str]] = set()  # objects more than one defines
        self._needed: dict[ObjectRef, Mapping[str, Any]] = {}
        self._generation = 0  # of the looked-up objects: moves when any changes

    def parse(self, text: str, pieces: Pieces | None = None) -> Loaded:
        """One file's text converted; with ``pieces``, its unchanged pieces are reused."""
        return _Collector(self.options, pieces).parse(text)

    def parse_text(self, text: str, before: Parsed | None, pieces: Pieces) -> Parsed:
        """One file's text converted, from what ``before`` parsed when it is an edit of
        it: the pieces the edit did not touch are neither split nor looked up again."""
        collector = _Collector(self.options, pieces)
        if before is not None:
            edited = _edited(before, text, collector.parse_chunks)
            if edited is not None:
                loaded, spans, replaced = edited
                kept = dict(pieces.previous)
                starts = [b for b, _ in before.spans]
                ends = [*starts[1:], len(before.text)]
                for n in replaced:
                    kept.pop(before.text[starts[n] : ends[n]], None)
                kept.update(pieces.kept)
                pieces.kept = kept
                return Parsed(text, tuple(spans), loaded)
        every = list(_spans(text))
        loaded = collector.parse_chunks(text, ((line, text[b:e]) for b, e, line in every))
        return Parsed(text, tuple((b, line) for b, _, line in every), loaded)

    def _unit(self, file: str, number: int, piece: Piece | str, problem: str) -> _Unit:
        unit = self._units.get((file, number))
        if unit is not None and unit.piece is piece and unit.problem == problem:
            return unit
        alone = _Collector(self.options)
        _Unit(file, number, piece, problem, frozenset(), [], [], [], {}, 0).replay(alone)
        return _Unit(
            file,
            number,
            piece,
            problem,
            frozenset(alone.seen),
            alone.errors,
            alone.endpoints,
            alone.deferred,
            alone.needed,
            alone.objects,
        )

    def _file_units(self, file: str, loaded: Loaded) -> list[_Unit]:
        last = self._by_file.get(file)
        if last is not None and last[0] is loaded:
            return last[1]
        if isinstance(loaded, str):
            return [self._unit(file, -1, loaded, "")]
        units, number = [], 0
        for piece, problem in loaded:
            if piece is None:
                number += 1
                continue
            units.append(self._unit(file, number, piece, problem))
            number += len(piece)
        return units

    def combine(self, files: Iterable[tuple[str, Loaded]]) -> ManifestResult:
        """The result of these files, read in this order (the caller's sorted order)."""
        by_file = {file: (loaded, self._file_units(file, loaded)) for file, loaded in files}
        self._by_file = by_file
        units = [u for _, file_units in by_file.values() for u in file_units]
        shared = self._count({(u.file, u.number): u for u in units})
        loader = _Collector(self.options)
        errors, endpoints, deferred, needed = (
            loader.errors,
            loader.endpoints,
            loader.deferred,
            loader.needed,
        )
        # Per unit, its deferred objects: from `start` on in loader.deferred.
        segments: list[tuple[_Unit | None, int]] = []
        for u in units:
            start = len(deferred)
            if shared.isdisjoint(u.keys):
                errors += u.errors
                endpoints += u.endpoints
                deferred += u.deferred
                loader.objects += u.objects
                if u.needed:
                    for ref, raw in u.needed.items():
                        needed.setdefault(ref, raw)
                segments.append((u, start))
            else:  # objects defined again: in order, as a whole load meets them
                u.replay(loader)
                segments.append((None, start))
        self._finish(loader, segments)
        endpoints.sort(key=_ENDPOINT_ORDER)
        self._last = ManifestResult(tuple(endpoints), tuple(errors), loader.objects)
        return self._last

    def update(
        self, changed: Mapping[str, Loaded], base: ManifestResult
    ) -> tuple[ManifestResult, list[Endpoint], list[Endpoint]] | None:
        """``base`` (the last result) with the ``changed`` files read again, without
        walking the others: the result, the endpoints gone and those new.  None when
        a whole :meth:`combine` is needed: a new file, an object defined again, a
        looked-up kind (Gateway, Namespace, Node), or errors before or after."""
        if base is not self._last or self._lookups is None:
            return None
        olds: list[_Unit] = []
        by_file: dict[str, tuple[Loaded, list[_Unit]]] = {}
        for file, loaded in changed.items():
            last = self._by_file.get(file)
            if last is None:
                return None
            olds += last[1]
            by_file[file] = (loaded, self._file_units(file, loaded))
        news = [u for _, units in by_file.values() for u in units]
        kept = {id(u) for u in news}.intersection(id(u) for u in olds)  # pieces unchanged
        olds = [u for u in olds if id(u) not in kept]
        news = [u for u in news if id(u) not in kept]
        if not self._quiet(olds, news):
            return None
        removed = [e for u in olds for e in (*u.endpoints, *self._finish_unit(u, self._lookups)[0])]
        added = [e for u in news for e in (*u.endpoints, *self._finish_unit(u, self._lookups)[0])]
        endpoints = _moved(base.endpoints, removed, added)
        if endpoints is None:
            return None
        for u in olds:
            del self._units[(u.file, u.number)]
            for k in u.keys:
                self._counts.pop(k, None)
        for u in news:
            self._units[(u.file, u.number)] = u
            self._counts.update(dict.fromkeys(u.keys, 1))
        self._by_file.update(by_file)
        objects = base.objects - sum(u.objects for u in olds) + sum(u.objects for u in news)
        self._last = ManifestResult(endpoints, base.errors, objects)
        return self._last, removed, added

    def _quiet(self, olds: list[_Unit], news: list[_Unit]) -> bool:
        """Whether these units leave and come without touching any other: no object
        another defines, none looked up, no error (errors keep file order)."""
        lookups = self._lookups
        assert lookups is not None
        for u in (*olds, *news):
            if u.needed or u.errors or not self._shared.isdisjoint(u.keys):
                return False
            if self._finish_unit(u, lookups)[1]:
                return False
        gone = {k for u in olds for k in u.keys}
        came: set[tuple[str, str, str]] = set()
        for u in news:
            if not came.isdisjoint(u.keys):
                return False
            came |= u.keys
        return all(k in gone or k not in self._counts for k in came)

    def _count(self, units: dict[tuple[str, int], _Unit]) -> set[tuple[str, str, str]]:
        """The objects more than one unit defines, counted by what changed since the last
        combine (most combines change one unit of thousands)."""
        counts, old = self._counts, self._units
        moved: set[tuple[str, str, str]] = set()
        for slot, u in old.items():
            if units.get(slot) is not u:
                for k in u.keys:
                    counts[k] -= 1
                moved |= u.keys
        for slot, u in units.items():
            if old.get(slot) is not u:
                for k in u.keys:
                    counts[k] = counts.get(k, 0) + 1
                moved |= u.keys
        for k in moved:
            n = counts.get(k, 0)
            if n > 1:
                self._shared.add(k)
            else:
                self._shared.discard(k)
                if n == 0:
                    counts.pop(k, None)
        self._units = units
        return self._shared

    def _finish_unit(
        self, unit: _Unit, lookups: _Lookups
    ) -> tuple[list[Endpoint], list[InvalidInput]]:
        """A unit's deferred objects converted (kept while the looked-up kinds stay)."""
        if unit.finished is not None and unit.finished[0] == self._generation:
            return unit.finished[1], unit.finished[2]
        endpoints: list[Endpoint] = []
        errors: list[InvalidInput] = []
        before, kept = unit.conversions, []
        for n, (ref, raw, where) in enumerate(unit.deferred):
            done = lookups.convert(ref, raw, self.options, before[n] if n < len(before) else None)
            kept.append(done)
            endpoints += done[0].endpoints
            errors += _placed(done[0].errors, where)
        unit.finished = (self._generation, endpoints, errors)
        unit.conversions = kept
        return endpoints, errors

    def _finish(self, loader: _Collector, segments: list[tuple[_Unit | None, int]]) -> None:
        """The deferred objects converted, unit by unit (their errors in that order)."""
        needed = loader.needed
        if len(needed) != len(self._needed) or any(
            self._needed.get(k) is not v for k, v in needed.items()
        ):
            self._generation += 1
        self._needed = needed
        lookups = self._lookups = _Lookups(needed, self._lookups)
        ends = [start for _, start in segments[1:]] + [len(loader.deferred)] if segments else []
        for (unit, start), end in zip(segments, ends, strict=True):
            if start == end:
                continue
            if unit is not None:
                endpoints, errors = self._finish_unit(unit, lookups)
            else:
                endpoints, errors = [], []
                for ref, raw, where in loader.deferred[start:end]:
                    result = lookups.convert(ref, raw, self.options, None)[0]
                    endpoints += result.endpoints
                    errors += _placed(result.errors, where)
            loader.endpoints += endpoints
            loader.errors += errors
