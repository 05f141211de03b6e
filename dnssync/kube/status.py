"""``status.observedGeneration`` on the objects dnssync published, as external-dns writes it.

external-dns's crd source sets a DNSEndpoint's ``status.observedGeneration``
to its ``metadata.generation``, so GitOps tools (Argo CD, Flux health checks)
can tell that the current spec was taken up.  dnssync writes it for every
kind whose registry entry says ``writes_status`` (:mod:`dnssync.kinds`), and
only once the spec is in DNS: after a pass of a target that applied its plan
with no error, no rejected change and no refusal, and during which the
target's inputs did not change (so the generations seen now are the ones
applied).

Off the reconcile path: :meth:`StatusWriter.applied` only remembers which
view to look at and wakes a background task, which compares each object's
generation with its observed one and writes the difference: one ``PUT`` on
the ``status`` subresource per object and generation, carrying the cached
``resourceVersion`` (RBAC: ``update`` on ``<plural>/status``, what
external-dns's own chart grants).  The API server keeps everything but the
status on a status write, so the body is the object's identity and its new
status.  A 409 means the object changed meanwhile: its new version arrives by
watch and is written after the pass that applies it.  Other failures are
retried a few times, then logged in one line; the reconcile never waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubernetes_asyncio import client

from dnssync import retry
from dnssync.errors import KubeConflict, KubeError, KubeNotFound
from dnssync.kinds import BY_REF
from dnssync.kube.translate import translating
from dnssync.model import ObjectRef

log = logging.getLogger(__name__)

#: Kinds whose status dnssync writes, by dnssync's kind name.
WRITES_STATUS = frozenset(ref for ref, kind in BY_REF.items() if kind.writes_status)

Refs = Callable[[], Iterable[ObjectRef]]


def _generations(obj: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """``(generation, observed generation)``, or None when there is nothing to write."""
    if obj is None:
        return None
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if not isinstance(generation, int) or generation == observed:
        return None
    return generation, observed if isinstance(observed, int) else 0


class StatusWriter:
    """Writes ``status.observedGeneration`` from a background task; never blocks a pass."""

    def __init__(
        self, api: client.ApiClient, *, lookup: Callable[[ObjectRef], Mapping[str, Any] | None]
    ) -> None:
        self.api: Any = client.CustomObjectsApi(api)
        self.lookup = lookup
        self._pending: list[Refs] = []
        self._wake = asyncio.Event()
        #: The generation last written per object (its watch event may not be in yet).
        self._written: dict[ObjectRef, int] = {}
        self.writes = 0

    def applied(self, refs: Refs) -> None:
        """A pass applied what ``refs()`` lists; look at those objects soon."""
        if refs not in self._pending:
            self._pending.append(refs)
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: write what each applied pass calls for."""
        while True:
            await self._wake.wait()
            await self.drain()

    async def drain(self) -> None:
        """Write what is pending now, then return (for tests and one-shot runs)."""
        self._wake.clear()
        pending, self._pending = self._pending, []
        for refs in pending:
            for ref in [r for r in refs() if r.kind in WRITES_STATUS]:
                found = _generations(self.lookup(ref))
                if found is not None and self._written.get(ref) != found[0]:
                    await self._write(ref, found[0])

    async def _write(self, ref: ObjectRef, generation: int) -> None:
        obj = self.lookup(ref) or {}
        version = (obj.get("metadata") or {}).get("resourceVersion")
        entry = BY_REF[ref.kind]
        body = {
            "apiVersion": entry.api_version,
            "kind": entry.kind,
            "metadata": {"name": ref.name, "namespace": ref.namespace, "resourceVersion": version},
            "status": {**(obj.get("status") or {}), "observedGeneration": generation},
        }
        what = f"update status of {entry.kind} {ref.namespace}/{ref.name}"

        async def put() -> None:
            with translating(what):
                await self.api.replace_namespaced_custom_object_status(
                    entry.group,
                    entry.version,
                    ref.namespace,
                    entry.plural,
                    ref.name,
                    body,
                    _request_timeout=10,
                )

        try:
            await retry.call(put, attempts=3, initial=0.5, cap=4.0)
        except (KubeConflict, KubeNotFound):
            return  # changed or gone meanwhile: the watch brings what is next
        except KubeError as e:
            log.warning("%s: %s", what, e)
            return
        self._written[ref] = generation
        self.writes += 1
