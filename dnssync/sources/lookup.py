"""How a converter reads the other objects it depends on (a route's Gateway).  Pure.

A converter whose registry entry lists ``needs`` (:mod:`dnssync.kinds`) gets a
:class:`Lookup` as its third argument and reads other objects only through
it, by dnssync's kind name, namespace ("" for cluster-scoped kinds such as
Namespaces) and name, or all of a kind (a NodePort Service's Nodes).
:class:`Recorder` serves a lookup from a mapping of stored objects and notes
every object asked for -- found or not -- so the object index converts the
asking object again when one of those appears, changes or goes
(:mod:`dnssync.sources.index`); the manifests reader serves
it from the objects of the same directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dnssync.model import ObjectRef


class Lookup(Protocol):
    """Other objects, by kind, namespace and name."""

    def get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def list(self, kind: str, namespace: str = "") -> list[Mapping[str, Any]]:
        """Every object of ``kind`` (in ``namespace``; "" for a cluster-scoped kind)."""
        ...


@dataclass(slots=True)
class Recorder:
    """A lookup over stored objects that remembers what was asked for."""

    objects: Mapping[ObjectRef, Mapping[str, Any]]
    asked: set[ObjectRef] = field(default_factory=set)

    def get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        ref = ObjectRef(kind, namespace, name)
        self.asked.add(ref)
        return self.objects.get(ref)

    def list(self, kind: str, namespace: str = "") -> list[Mapping[str, Any]]:
        # Noted as the nameless ref: any object of the kind there concerns the asker.
        self.asked.add(every(kind, namespace))
        found = [
            (r, o) for r, o in self.objects.items() if (r.kind, r.namespace) == (kind, namespace)
        ]
        return [o for _, o in sorted(found, key=lambda item: item[0])]


def every(kind: str, namespace: str = "") -> ObjectRef:
    """The ref a listing is noted under: every object of ``kind`` in ``namespace``."""
    return ObjectRef(kind, namespace, "")


class LookedUp(Exception):
    """Raised by :data:`NO_LOOKUPS` at a converter's first lookup; never leaves
    :func:`dnssync.sources.index.convert_alone` (a signal, not an error)."""


class _NoLookups:
    """A lookup that ends the conversion at its first question (see :func:`convert_alone`)."""

    def get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        raise LookedUp

    def list(self, kind: str, namespace: str = "") -> list[Mapping[str, Any]]:
        raise LookedUp


NO_LOOKUPS: Lookup = _NoLookups()
