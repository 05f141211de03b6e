"""Objects in, endpoint sets out -- incrementally, per target.

An :class:`ObjectIndex` holds the current objects of the source kinds (from
watches or from a manifests directory), trimmed to the fields the converters
read.  Each target subscribes an :class:`EndpointView` with its own source
options (annotation filter, default targets); a view converts each object
once per change, keeps the result per object, and wakes its target's
reconcile loop with the set of objects whose endpoints really changed.  One
changed object therefore costs one conversion, not a rebuild.

The index also holds the kinds converters depend on (``NEEDED`` in
:mod:`dnssync.kinds`: Gateways, Namespaces).  A converter reads them through
a :class:`~dnssync.sources.lookup.Recorder`; the view keeps, per object it
depends on, the objects that asked for it, so a changed Gateway converts
again exactly the routes that looked it up (found or not: a route listed
before its Gateway converts again when the Gateway arrives).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dnssync.errors import InvalidInput
from dnssync.kinds import KINDS, WATCHED
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.convert import Conversion, SourceOptions
from dnssync.sources.lookup import NO_LOOKUPS, LookedUp, Recorder, every

#: ``(object, options)``, and a :class:`~dnssync.sources.lookup.Lookup` third
#: for a kind whose entry lists ``needs``.
Converter = Callable[..., Conversion]


def _converter(path: str) -> Converter:
    module, _, function = path.partition(":")
    found: Converter = getattr(importlib.import_module(module), function)
    return found


#: Each registry kind's converter, by dnssync's kind name.
CONVERTERS: dict[str, Converter] = {k.ref: _converter(k.converter) for k in KINDS}
#: The kinds whose converter takes a lookup.
LOOKS_UP: frozenset[str] = frozenset(k.ref for k in KINDS if k.needs)


def convert_alone(kind: str, obj: Mapping[str, Any], options: SourceOptions) -> Conversion | None:
    """An object of a kind that may look others up, converted if it looks nothing
    up (a Service with a target annotation); None at its converter's first lookup."""
    try:
        return CONVERTERS[kind](obj, options, NO_LOOKUPS)
    except LookedUp:
        return None


def convert(
    ref: ObjectRef, obj: Mapping[str, Any], options: SourceOptions, objects: Mapping[ObjectRef, Any]
) -> tuple[Conversion, frozenset[ObjectRef]]:
    """One object converted, and the other objects its converter looked up in ``objects``."""
    if ref.kind not in LOOKS_UP:
        return CONVERTERS[ref.kind](obj, options), frozenset()
    lookup = Recorder(objects)
    return CONVERTERS[ref.kind](obj, options, lookup), frozenset(lookup.asked)


_META = ("name", "namespace", "annotations", "resourceVersion", "uid", "generation")
_META_LABELS = (*_META, "labels")


def trim(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the converters read: saves memory on large clusters.

    Kinds neither in the source registry nor needed by it (cert-manager Challenges, read by the
    ACME watcher) are kept whole: trimming them to metadata hid every Challenge
    that existed before the watcher's first list.
    """
    entry = WATCHED.get(kind)
    if entry is None:
        return dict(obj)
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    fields = _META_LABELS if entry.labels else _META
    out: dict[str, Any] = {
        "metadata": {k: meta[k] for k in fields if k in meta},
        "spec": {k: spec[k] for k in entry.spec_fields if k in spec},
    }
    if isinstance(status, Mapping):
        kept = {k: status[k] for k in entry.status_fields if status.get(k)}
        if kept:
            out["status"] = kept
    out.update({k: obj[k] for k in entry.top_fields if k in obj})
    return out


def ref_of(kind: str, obj: Mapping[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    entry = WATCHED.get(kind)
    if entry is not None and not entry.namespaced:
        return ObjectRef(kind, "", str(meta.get("name") or ""))
    return ObjectRef(kind, str(meta.get("namespace") or "default"), str(meta.get("name") or ""))


class EndpointView:
    """The endpoints one target gets from the index, kept up to date."""

    def __init__(
        self,
        options: SourceOptions,
        kinds: Iterable[str],
        objects: Mapping[ObjectRef, Mapping[str, Any]] | None = None,
    ) -> None:
        self.options = options
        self.kinds = frozenset(kinds)
        #: The index's objects: what converters look up, and what is converted again.
        self._objects: Mapping[ObjectRef, Mapping[str, Any]] = {} if objects is None else objects
        #: Per object looked up, the objects that asked for it; and the reverse.
        self._users: dict[ObjectRef, set[ObjectRef]] = {}
        self._uses: dict[ObjectRef, frozenset[ObjectRef]] = {}
        self._conversions: dict[ObjectRef, Conversion] = {}
        self._endpoints: list[Endpoint] | None = None
        self._errors: list[InvalidInput] | None = None
        #: The objects with errors (few, usually): errors() never walks every object.
        self._faulty: dict[ObjectRef, tuple[InvalidInput, ...]] = {}
        self._changed: set[ObjectRef] = set()
        #: Per name, the objects with endpoints there (a tuple: most names have one).
        self._at: dict[str, tuple[ObjectRef, ...]] = {}
        #: Names whose endpoints moved since ``take_names``.
        self._names: set[str] = set()
        self._event = asyncio.Event()
        self.version = 0

    def _set(self, ref: ObjectRef, conv: Conversion | None) -> None:
        old = self._conversions.get(ref)
        if conv is None or not (conv.endpoints or conv.errors):
            if old is None:
                return
            del self._conversions[ref]
        else:
            if old is not None and old.endpoints == conv.endpoints and _same(old, conv):
                return
            self._conversions[ref] = conv
        self._move(ref, old.endpoints if old else (), conv.endpoints if conv else ())
        self._endpoints = None
        errors = conv.errors if conv is not None else ()
        if errors:
            self._faulty[ref] = errors
        else:
            self._faulty.pop(ref, None)
        if errors or (old is not None and old.errors):
            self._errors = None
        self.version += 1
        self._changed.add(ref)
        self._event.set()

    def _move(self, ref: ObjectRef, old: Iterable[Endpoint], new: Iterable[Endpoint]) -> None:
        was, now = {e.name for e in old}, {e.name for e in new}
        at = self._at
        for name in was - now:
            left = tuple(r for r in at.get(name, ()) if r != ref)
            if left:
                at[name] = left
            else:
                at.pop(name, None)
        for name in now - was:
            at[name] = (*at.get(name, ()), ref)
        self._names |= was | now

    def upsert(self, ref: ObjectRef, obj: Mapping[str, Any]) -> None:
        if ref.kind in self.kinds:
            conv, uses = convert(ref, obj, self.options, self._objects)
            self._track(ref, uses)
            self._set(ref, conv)

    def delete(self, ref: ObjectRef) -> None:
        self._track(ref, frozenset())
        self._set(ref, None)

    def changed(self, ref: ObjectRef) -> None:
        """``ref`` appeared, changed or went: convert again the objects that looked it up
        (by name, or by listing its kind)."""
        users = self._users.get(ref, set()) | self._users.get(every(ref.kind, ref.namespace), set())
        for user in sorted(users):
            obj = self._objects.get(user)
            if obj is not None:
                self.upsert(user, obj)

    def _track(self, ref: ObjectRef, uses: frozenset[ObjectRef]) -> None:
        old = self._uses.pop(ref, frozenset())
        for gone in old - uses:
            users = self._users[gone]
            users.discard(ref)
            if not users:
                del self._users[gone]
        for new in uses - old:
            self._users.setdefault(new, set()).add(ref)
        if uses:
            self._uses[ref] = uses

    def endpoints(self) -> list[Endpoint]:
        if self._endpoints is None:
            self._endpoints = [e for c in self._conversions.values() for e in c.endpoints]
        return self._endpoints

    def errors(self) -> list[InvalidInput]:
        if self._errors is None:
            self._errors = [e for errors in self._faulty.values() for e in errors]
        return self._errors

    def invalid(self) -> dict[ObjectRef, tuple[InvalidInput, ...]]:
        """The objects with errors, and their errors."""
        return dict(self._faulty)

    def refs(self) -> list[ObjectRef]:
        """The objects that ask for something (endpoints or errors)."""
        return list(self._conversions)

    def pending(self) -> bool:
        return bool(self._changed)

    def take_names(self) -> set[str]:
        """The names whose endpoints moved (appeared, changed, went) since the last call."""
        names, self._names = self._names, set()
        return names

    def wants(self, name: str) -> bool:
        """Whether some object asks for ``name``."""
        return name in self._at

    def at(self, names: Iterable[str]) -> list[Endpoint]:
        """The endpoints at ``names``, from every object asking for them."""
        refs = {r for n in names for r in self._at.get(n, ())}
        wanted = set(names)
        conversions = self._conversions
        return [e for r in sorted(refs) for e in conversions[r].endpoints if e.name in wanted]

    def take_changes(self) -> set[ObjectRef]:
        changed, self._changed = self._changed, set()
        self._event.clear()
        return changed

    async def wait(self, timeout: float | None = None) -> set[ObjectRef]:
        """Wait until something changed (or ``timeout``); return what changed."""
        if not self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._event.wait()
            except TimeoutError:
                pass
        return self.take_changes()


class ObjectIndex:
    """The current objects of every source kind, fanned out to the views."""

    def __init__(self) -> None:
        self.objects: dict[ObjectRef, dict[str, Any]] = {}
        self.views: list[EndpointView] = []

    def view(self, options: SourceOptions, kinds: Iterable[str]) -> EndpointView:
        v = EndpointView(options, kinds, self.objects)
        for ref, obj in self.objects.items():
            v.upsert(ref, obj)
        v.take_changes()
        self.views.append(v)
        return v

    def upsert(self, kind: str, obj: Mapping[str, Any]) -> ObjectRef:
        ref = ref_of(kind, obj)
        small = trim(kind, obj)
        old = self.objects.get(ref)
        if old == small:
            return ref
        self.objects[ref] = small
        # A new resourceVersion alone (a Node's heartbeat) is kept, for Events and
        # status writes, but changes nothing the objects that looked it up read.
        moved = old is None or _content(old) != _content(small)
        for v in self.views:
            v.upsert(ref, small)
            if moved:
                v.changed(ref)
        return ref

    def delete(self, kind: str, obj: Mapping[str, Any]) -> ObjectRef:
        ref = ref_of(kind, obj)
        if self.objects.pop(ref, None) is not None:
            self._gone(ref)
        return ref

    def _gone(self, ref: ObjectRef) -> None:
        for v in self.views:
            v.delete(ref)
            v.changed(ref)

    def replace(
        self, kind: str, objs: Iterable[Mapping[str, Any]], *, namespace: str | None = None
    ) -> None:
        """A relist: the new list is the truth for ``kind`` (in ``namespace``)."""
        seen = {self.upsert(kind, o) for o in objs}
        stale = [
            r
            for r in self.objects
            if r.kind == kind and r not in seen and namespace in (None, r.namespace)
        ]
        for ref in stale:
            del self.objects[ref]
            self._gone(ref)


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A trimmed object without its resourceVersion."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _same(a: Conversion, b: Conversion) -> bool:
    # Exceptions compare by identity; their text is what matters here.
    return [str(e) for e in a.errors] == [str(e) for e in b.errors]
