"""The fake API server's state: objects, one resourceVersion counter, history, watchers.

This is etcd plus the apiserver's registry logic, without HTTP: every write
goes through `Store._commit`, which bumps the single global resourceVersion,
records the event in a bounded history (what a watch from an older version
replays) and hands it to every open watcher whose filter it passes.

Stored objects are never mutated after they are stored (each write stores a
fresh deep copy), so history entries and queued watch events can share them.
Everything here is synchronous: within one event loop a write and its
notifications are atomic, which is what makes "replay history, then follow
live events" gap-free for a new watch.
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, already_exists, conflict, expired, invalid, not_found
from .patches import PatchError, json_patch, merge_patch, strip_directives
from .resources import DEFAULT_RESOURCES, JsonObj, ResourceType

Matcher = Callable[[JsonObj], bool]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# The alphabet apiserver's generateName suffixes use (no vowels, no 0/1/3).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    """One committed change, as history keeps it."""

    rv: int
    type: str
    rtype: ResourceType
    obj: JsonObj  # the new state (for DELETED: the last state, carrying the delete's RV)
    old: JsonObj | None  # the previous state (MODIFIED only), for selector transitions


@dataclass(eq=False)
class Watcher:
    """One open watch: its filter and the queue its HTTP handler drains."""

    rtype: ResourceType
    namespace: str | None
    matches: Matcher
    # (type, object) pairs; None only wakes the handler to look at `signal`.
    queue: asyncio.Queue[tuple[str, JsonObj] | None] = field(default_factory=asyncio.Queue)
    # Set by fault injection: "expire" (410 ERROR line, then EOF), "drop"
    # (abort the connection), "close" (clean EOF).
    signal: str | None = None

    def visible(self, event: Event) -> str | None:
        """The event type this watcher sees, as the watch cache computes it.

        A modification that moves an object into the selection arrives as
        ADDED, one that moves it out as DELETED; an unrelated one not at all.
        """
        if event.rtype != self.rtype:
            return None
        now = self._selected(event.obj)
        if event.type != MODIFIED:
            return event.type if now else None
        before = event.old is not None and self._selected(event.old)
        if now and before:
            return MODIFIED
        if now:
            return ADDED
        return DELETED if before else None

    def _selected(self, obj: JsonObj) -> bool:
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.matches(obj)

    def notify(self, signal: str) -> None:
        self.signal = signal
        self.queue.put_nowait(None)


@dataclass
class _Snapshot:
    """A paginated list in progress (what a `continue` token refers to)."""

    rv: int
    items: list[JsonObj]
    offset: int


def _spec_part(obj: JsonObj) -> JsonObj:
    """Everything but metadata and status: what metadata.generation tracks."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_rv(obj: JsonObj) -> JsonObj:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


class Store:
    """Objects of every served kind, keyed by (namespace, name); "" for cluster-scoped."""

    def __init__(self, resources: Iterable[ResourceType] = DEFAULT_RESOURCES) -> None:
        self.resources: list[ResourceType] = []
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._objects: dict[ResourceType, dict[tuple[str, str], JsonObj]] = {}
        self.rv = 1  # a fresh cluster never starts at 0: "0" means "any" to the API
        self.floor = 1  # watching from an RV below this is 410 Gone
        self.history: deque[Event] = deque()
        self.history_limit = 10_000
        self.watchers: set[Watcher] = set()
        self._snapshots: dict[str, _Snapshot] = {}
        for rtype in resources:
            self.register(rtype)

    # ---- kinds -------------------------------------------------------------

    def register(self, rtype: ResourceType) -> None:
        """Serve one more kind."""
        self.resources.append(rtype)
        self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._by_kind[(rtype.api_version, rtype.kind)] = rtype
        self._objects.setdefault(rtype, {})

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType:
        try:
            return self._by_kind[(api_version, kind)]
        except KeyError:
            raise ValueError(f"FakeKube does not serve {kind} in {api_version}") from None

    # ---- reads -------------------------------------------------------------

    @staticmethod
    def _key(rtype: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if rtype.namespaced else "", name)

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> JsonObj | None:
        obj = self._objects[rtype].get(self._key(rtype, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def select(
        self, rtype: ResourceType, namespace: str | None, matches: Matcher | None = None
    ) -> list[JsonObj]:
        """Matching objects in etcd key order; shared, not copied.

        etcd sorts the keys ``<namespace>/<name>`` as strings, so "t1-other/b" comes before
        "t1/a" ("-" sorts before "/"): not the order of (namespace, name) pairs.
        """
        objects = self._objects[rtype]
        return [
            objects[key]
            for key in sorted(objects, key="/".join)
            if (namespace is None or not rtype.namespaced or key[0] == namespace)
            and (matches is None or matches(objects[key]))
        ]

    def list_page(
        self,
        rtype: ResourceType,
        namespace: str | None,
        matches: Matcher,
        limit: int | None,
        token: str | None,
    ) -> tuple[int, list[JsonObj], str | None, int | None]:
        """One page of a list: (list RV, items, continue token, remainingItemCount)."""
        if token:
            snapshot = self._snapshots.pop(token, None)
            if snapshot is None or snapshot.rv < self.floor:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list"
                    " result. You can start a new list without the continue parameter."
                )
        else:
            snapshot = _Snapshot(self.rv, self.select(rtype, namespace, matches), 0)
        end = len(snapshot.items) if not limit else snapshot.offset + limit
        page = snapshot.items[snapshot.offset : end]
        if end >= len(snapshot.items):
            return snapshot.rv, page, None, None
        next_token = secrets.token_urlsafe(12)
        self._snapshots[next_token] = _Snapshot(snapshot.rv, snapshot.items, end)
        return snapshot.rv, page, next_token, len(snapshot.items) - end

    # ---- commits -----------------------------------------------------------

    def _commit(self, rtype: ResourceType, kind: str, new: JsonObj, old: JsonObj | None) -> JsonObj:
        """Store one change under the next resourceVersion and tell the watchers."""
        self.rv += 1
        new["metadata"]["resourceVersion"] = str(self.rv)
        key = self._key(rtype, new["metadata"].get("namespace"), new["metadata"]["name"])
        if kind == DELETED:
            self._objects[rtype].pop(key, None)
        else:
            self._objects[rtype][key] = new
        event = Event(self.rv, kind, rtype, new, old if kind == MODIFIED else None)
        self.history.append(event)
        while len(self.history) > self.history_limit:
            # The watch cache's window slid: versions before this one are gone.
            self.floor = self.history.popleft().rv
        for watcher in list(self.watchers):
            seen = watcher.visible(event)
            if seen is not None:
                watcher.queue.put_nowait((seen, new))
        return copy.deepcopy(new)

    def compact(self) -> None:
        """Forget all history: only the current version can be watched from now."""
        self.floor = self.rv
        self.history.clear()
        self._snapshots.clear()

    def rebase(self, jump: int) -> None:
        """Jump the counter (an etcd restore with --bump-revision) and compact."""
        self.rv += jump
        self.compact()

    # ---- writes ------------------------------------------------------------

    def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        api: bool = True,
        dry_run: bool = False,
    ) -> JsonObj:
        """POST. `api=False` is the test's direct path: status kept, no validation."""
        obj = self._checked_body(rtype, namespace, body)
        meta = obj["metadata"]
        if api and meta.get("resourceVersion"):
            raise ApiError(400, "resourceVersion should not be set on objects to be created")
        if not meta.get("name"):
            if meta.get("generateName"):
                suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
                meta["name"] = f"{meta['generateName']}{suffix}"
            else:
                raise invalid(
                    rtype,
                    "",
                    [("metadata.name", "Required value: name or generateName is required")],
                )
        name = meta["name"]
        if self._objects[rtype].get(self._key(rtype, meta.get("namespace"), name)) is not None:
            raise already_exists(rtype, name)
        for server_owned in ("resourceVersion", "deletionTimestamp", "selfLink", "managedFields"):
            meta.pop(server_owned, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if rtype.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rtype.status_subresource and (api or "status" not in obj):
            # The API ignores status on create for kinds with a status subresource.
            obj.pop("status", None)
            if rtype.initial_status is not None:
                obj["status"] = copy.deepcopy(rtype.initial_status)
        if rtype.defaulter is not None:
            rtype.defaulter(obj)
        if api:
            self._validate(rtype, obj)
        if dry_run:
            return obj
        return self._commit(rtype, ADDED, obj, None)

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        api: bool = True,
        dry_run: bool = False,
    ) -> tuple[JsonObj, bool]:
        """PUT (to the object or its /status). Returns (object, created)."""
        obj = self._checked_body(rtype, namespace, body)
        meta = obj["metadata"]
        if meta.setdefault("name", name) != name:
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the name on the URL"
                f" ({name})",
            )
        old = self._objects[rtype].get(self._key(rtype, namespace, name))
        if old is None:
            if rtype.create_on_update and subresource is None and api:
                meta.pop("resourceVersion", None)
                return self.create(rtype, namespace, obj, dry_run=dry_run), True
            raise not_found(rtype, name)
        if api:
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            if not sent_rv and (rtype.custom or rtype.update_needs_resource_version):
                # CRD-served kinds and Leases refuse unconditional updates.
                raise invalid(
                    rtype,
                    name,
                    [
                        (
                            "metadata.resourceVersion",
                            "Invalid value: 0: must be specified for an update",
                        )
                    ],
                )
        return self._update(
            rtype, old, obj, subresource=subresource, api=api, dry_run=dry_run
        ), False

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
        api: bool = True,
        dry_run: bool = False,
    ) -> tuple[JsonObj, bool]:
        """PATCH, dispatched on the Content-Type like the real server. Returns (object, created)."""
        ctype = content_type.split(";")[0].strip().lower()
        accepted = [JSON_PATCH, MERGE_PATCH] + ([] if rtype.custom else [STRATEGIC_PATCH])
        accepted.append(APPLY_PATCH)
        if ctype not in accepted:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types include: "
                + ", ".join(accepted),
            )
        old = self._objects[rtype].get(self._key(rtype, namespace, name))
        if ctype == APPLY_PATCH:
            if not field_manager:
                raise ApiError(
                    422,
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value:'
                    " is required for apply patch",
                    reason="Invalid",
                )
            if not isinstance(body, dict):
                raise ApiError(400, "error decoding YAML: the apply patch is not an object")
            if old is None:
                # Server-side apply creates what does not exist yet.
                if subresource is not None:
                    raise not_found(rtype, name)
                obj = self._checked_body(rtype, namespace, body)
                obj["metadata"].setdefault("name", name)
                return self.create(rtype, namespace, obj, api=api, dry_run=dry_run), True
            # Approximation: apply as a merge patch, always forcing conflicts.
            ctype = MERGE_PATCH
        if old is None:
            raise not_found(rtype, name)
        try:
            if ctype == JSON_PATCH:
                patched = json_patch(old, body)
            elif not isinstance(body, dict):
                raise PatchError("the patch is not a JSON object")
            elif ctype == STRATEGIC_PATCH:
                # Approximation: built-in kinds get a merge patch (lists replace).
                patched = merge_patch(old, strip_directives(body))
            else:
                patched = merge_patch(old, body)
        except PatchError as exc:
            raise ApiError(exc.code, str(exc)) from None
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise ApiError(422, "the patch removed the object's metadata", reason="Invalid")
        pmeta = patched["metadata"]
        for immutable in ("name", "namespace"):
            if pmeta.get(immutable) != old["metadata"].get(immutable):
                raise invalid(rtype, name, [(f"metadata.{immutable}", "field is immutable")])
        if api and pmeta.get("resourceVersion") != old["metadata"]["resourceVersion"]:
            # A resourceVersion in the patch is a precondition.
            raise conflict(rtype, name)
        return self._update(
            rtype, old, patched, subresource=subresource, api=api, dry_run=dry_run
        ), False

    def _update(
        self,
        rtype: ResourceType,
        old: JsonObj,
        new: JsonObj,
        *,
        subresource: str | None,
        api: bool,
        dry_run: bool,
    ) -> JsonObj:
        """The part of PUT and PATCH after the new content is known."""
        new = copy.deepcopy(new)
        if subresource == "status":
            # A status write changes status only: spec and metadata stay.
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif api and rtype.status_subresource:
            # A write to the main resource cannot change status.
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        meta, old_meta = new["metadata"], old["metadata"]
        for server_owned in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if server_owned in old_meta:
                meta[server_owned] = old_meta[server_owned]
            else:
                meta.pop(server_owned, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if rtype.generation and _spec_part(new) != _spec_part(old):
            meta["generation"] = int(old_meta.get("generation", 0)) + 1
        if api:
            self._validate(rtype, new)
        if new == old:
            # A no-op write is not written: same resourceVersion, no event.
            return copy.deepcopy(old)
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The last finalizer went: the pending delete completes now.
            return self._commit(rtype, DELETED, new, None)
        return self._commit(rtype, MODIFIED, new, old)

    def force_replace(self, rtype: ResourceType, body: JsonObj) -> JsonObj:
        """The test's direct update: whole object including status, no RV check."""
        obj = self._checked_body(rtype, None, body)  # namespace defaults to "default"
        name = obj["metadata"].get("name")
        if not name:
            raise ValueError("metadata.name is required")
        old = self._objects[rtype].get(self._key(rtype, obj["metadata"].get("namespace"), name))
        if old is None:
            raise not_found(rtype, name)
        return self._update(rtype, old, obj, subresource=None, api=False, dry_run=False)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        options: Any = None,
        api: bool = True,
        dry_run: bool = False,
    ) -> tuple[JsonObj, bool]:
        """DELETE. Returns (last state, gone); with finalizers (API only) it is only marked."""
        old = self._objects[rtype].get(self._key(rtype, namespace, name))
        if old is None:
            raise not_found(rtype, name)
        preconditions = (options.get("preconditions") if isinstance(options, dict) else None) or {}
        uid = preconditions.get("uid")
        if uid and uid != old["metadata"]["uid"]:
            raise conflict(
                rtype,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{old['metadata']['uid']}",
            )
        want_rv = preconditions.get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise conflict(
                rtype,
                name,
                f"Precondition failed: ResourceVersion in precondition: {want_rv}, "
                f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}",
            )
        new = copy.deepcopy(old)
        if api and old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return copy.deepcopy(old), False
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rtype.generation:
                new["metadata"]["generation"] = int(old["metadata"].get("generation", 0)) + 1
            if dry_run:
                return new, False
            return self._commit(rtype, MODIFIED, new, old), False
        if dry_run:
            return new, True
        return self._commit(rtype, DELETED, new, None), True

    # ---- watches -----------------------------------------------------------

    def open_watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        matches: Matcher,
        resource_version: str | None,
        send_initial_events: bool = False,
    ) -> tuple[list[tuple[str, JsonObj]], Watcher]:
        """Register a watcher and return what it must send before live events.

        From "" / "0" (or with sendInitialEvents) that is a synthetic ADDED per
        current object; from N it is the history after N, or 410 when N is
        older than what history still holds. Registration and the snapshot
        happen with no await in between, so no event can fall in a gap.
        """
        watcher = Watcher(rtype, namespace, matches)
        if send_initial_events or resource_version in (None, "", "0"):
            initial = [(ADDED, obj) for obj in self.select(rtype, namespace, matches)]
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise ApiError(400, f'invalid resource version "{resource_version}"') from None
            if since < self.floor:
                raise expired(f"too old resource version: {since} ({self.floor})")
            initial = []
            for event in self.history:
                seen = watcher.visible(event) if event.rv > since else None
                if seen is not None:
                    initial.append((seen, event.obj))
        self.watchers.add(watcher)
        return initial, watcher

    def close_watch(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    # ---- helpers -----------------------------------------------------------

    def _checked_body(self, rtype: ResourceType, namespace: str | None, body: Any) -> JsonObj:
        """A deep copy of a request body with kind/apiVersion/namespace checked and filled."""
        if not isinstance(body, dict):
            raise ApiError(400, f"the body of the request was not a {rtype.kind} object")
        obj = copy.deepcopy(body)
        if obj.get("apiVersion", rtype.api_version) != rtype.api_version:
            raise ApiError(
                400,
                f"the API version in the data ({obj['apiVersion']}) does not match the expected"
                f" API version ({rtype.api_version})",
            )
        if obj.get("kind", rtype.kind) != rtype.kind:
            raise ApiError(
                400,
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {obj["kind"]}',
            )
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise ApiError(400, "metadata must be an object")
        if rtype.namespaced:
            sent = meta.get("namespace")
            if namespace is not None and sent and sent != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent on"
                    " the request",
                )
            meta["namespace"] = sent or namespace or "default"
        else:
            meta.pop("namespace", None)
        return obj

    def _validate(self, rtype: ResourceType, obj: JsonObj) -> None:
        name = obj["metadata"]["name"]
        causes: list[tuple[str, str]] = []
        if rtype.plural in ("services", "namespaces"):
            pattern, what = (
                (_DNS_1035, "a DNS-1035 label")
                if rtype.plural == "services"
                else (_DNS_LABEL, "a lowercase RFC 1123 label")
            )
            if len(name) > 63 or not pattern.fullmatch(name):
                causes.append(("metadata.name", f'Invalid value: "{name}": must be {what}'))
        elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
            causes.append(
                (
                    "metadata.name",
                    f'Invalid value: "{name}": must be a lowercase RFC 1123 subdomain',
                )
            )
        if rtype.validator is not None:
            causes.extend(rtype.validator(obj))
        if causes:
            raise invalid(rtype, name, causes)
