"""Objects in, endpoint sets out -- incrementally, per target.

An :class:`ObjectIndex` holds the current objects of the source kinds (from
watches or from a manifests directory), trimmed to the fields the converters
read.  Each target subscribes an :class:`EndpointView` with its own source
options (annotation filter, default targets); a view converts each object
once per change, keeps the result per object, and wakes its target's
reconcile loop with the set of objects whose endpoints really changed.  One
changed object therefore costs one conversion, not a rebuild.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dnssync.errors import InvalidInput
from dnssync.kinds import BY_REF, KINDS
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.convert import Conversion, SourceOptions

Converter = Callable[[Mapping[str, Any], SourceOptions], Conversion]


def _converter(path: str) -> Converter:
    module, _, function = path.partition(":")
    found: Converter = getattr(importlib.import_module(module), function)
    return found


#: Each registry kind's converter, by dnssync's kind name.
CONVERTERS: dict[str, Converter] = {k.ref: _converter(k.converter) for k in KINDS}


def trim(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the converters read: saves memory on large clusters.

    Kinds outside the source registry (cert-manager Challenges, read by the
    ACME watcher) are kept whole: trimming them to metadata hid every Challenge
    that existed before the watcher's first list.
    """
    entry = BY_REF.get(kind)
    if entry is None:
        return dict(obj)
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    out: dict[str, Any] = {
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "annotations", "resourceVersion", "uid")
            if k in meta
        },
        "spec": {k: spec[k] for k in entry.spec_fields if k in spec},
    }
    if isinstance(status, Mapping):
        kept = {k: status[k] for k in entry.status_fields if status.get(k)}
        if kept:
            out["status"] = kept
    return out


def ref_of(kind: str, obj: Mapping[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(kind, str(meta.get("namespace") or "default"), str(meta.get("name") or ""))


class EndpointView:
    """The endpoints one target gets from the index, kept up to date."""

    def __init__(self, options: SourceOptions, kinds: Iterable[str]) -> None:
        self.options = options
        self.kinds = frozenset(kinds)
        self._conversions: dict[ObjectRef, Conversion] = {}
        self._endpoints: list[Endpoint] | None = None
        self._errors: list[InvalidInput] | None = None
        self._changed: set[ObjectRef] = set()
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
        self._endpoints = None
        self._errors = None
        self.version += 1
        self._changed.add(ref)
        self._event.set()

    def upsert(self, ref: ObjectRef, obj: Mapping[str, Any]) -> None:
        if ref.kind in self.kinds:
            self._set(ref, CONVERTERS[ref.kind](obj, self.options))

    def delete(self, ref: ObjectRef) -> None:
        self._set(ref, None)

    def endpoints(self) -> list[Endpoint]:
        if self._endpoints is None:
            self._endpoints = [e for c in self._conversions.values() for e in c.endpoints]
        return self._endpoints

    def errors(self) -> list[InvalidInput]:
        if self._errors is None:
            self._errors = [e for c in self._conversions.values() for e in c.errors]
        return self._errors

    def invalid(self) -> dict[ObjectRef, tuple[InvalidInput, ...]]:
        """The objects with errors, and their errors."""
        return {ref: c.errors for ref, c in self._conversions.items() if c.errors}

    def pending(self) -> bool:
        return bool(self._changed)

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
        v = EndpointView(options, kinds)
        for ref, obj in self.objects.items():
            v.upsert(ref, obj)
        v.take_changes()
        self.views.append(v)
        return v

    def upsert(self, kind: str, obj: Mapping[str, Any]) -> ObjectRef:
        ref = ref_of(kind, obj)
        small = trim(kind, obj)
        if self.objects.get(ref) == small:
            return ref
        self.objects[ref] = small
        for v in self.views:
            v.upsert(ref, small)
        return ref

    def delete(self, kind: str, obj: Mapping[str, Any]) -> ObjectRef:
        ref = ref_of(kind, obj)
        if self.objects.pop(ref, None) is not None:
            for v in self.views:
                v.delete(ref)
        return ref

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
            for v in self.views:
                v.delete(ref)


def _same(a: Conversion, b: Conversion) -> bool:
    # Exceptions compare by identity; their text is what matters here.
    return [str(e) for e in a.errors] == [str(e) for e in b.errors]
