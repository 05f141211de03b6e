"""What the source converters take and give, and the steps they share.

Pure: no I/O, no clock, no env.  A converter (one module per source kind, see
:mod:`dnssync.sources.kinds`) turns one raw Kubernetes JSON object into a
:class:`Conversion`: its endpoints and every problem found.  :func:`begin`
applies the rules every kind shares (identity, the annotation filter, the
``controller`` annotation, ``ttl`` and ``target``; see
:mod:`dnssync.sources.annotations`), and :class:`ObjectWork` collects the
names and targets of one object into endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from dnssync.errors import InvalidInput
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.annotations import (
    CONTROLLER_VALUE,
    DEFAULT_PREFIX,
    find,
    get,
    parse_hostname,
    parse_target,
    parse_targets,
    parse_ttl,
    split_list,
)
from dnssync.sources.selector import AnnotationFilter


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How objects become endpoints; one set per target, built from the config."""

    annotation_filter: AnnotationFilter | None = None
    #: Used when an object has no target annotation and no status (manifests).
    default_targets: tuple[str, ...] = ()
    #: Publish ``spec.tls[].hosts`` of Ingresses (external-dns: --ignore-ingress-tls-spec).
    ingress_tls_hosts: bool = True
    #: Publish ``spec.rules[].host`` of Ingresses (external-dns: --ignore-ingress-rules-spec).
    ingress_rule_hosts: bool = True
    #: ClusterIP Services publish their cluster IPs (external-dns --publish-internal-services).
    publish_internal: bool = False
    default_ttl: int | None = None
    #: external-dns's ``--annotation-prefix``: the one prefix annotations are read under.
    annotation_prefix: str = DEFAULT_PREFIX
    #: Objects come from a manifests directory (no status): a Gateway API route
    #: counts as accepted by the Gateways it names.
    manifests: bool = False


@dataclass(frozen=True, slots=True)
class Conversion:
    """What one object asks for, and every problem found on the way."""

    endpoints: tuple[Endpoint, ...]
    errors: tuple[InvalidInput, ...]
    #: False when the object is not ours (filter, controller annotation, no names
    #: without a filter); nothing is produced then and nothing is reported.
    selected: bool


NOT_SELECTED: Final = Conversion((), (), False)


# --- shared by the Service and Ingress converters ------------------------------------


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (raw JSON may hold anything)."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: object) -> Sequence[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list | tuple) else ()


@dataclass(slots=True)
class ObjectWork:
    """One object being converted: its identity, annotations and errors so far."""

    ref: ObjectRef
    annotations: dict[str, str]
    options: SourceOptions
    errors: list[InvalidInput] = field(default_factory=list)
    ttl: int | None = None
    #: Targets from the ``target`` annotation, or None when it is absent or empty.
    annotation_targets: list[tuple[str, str]] | None = None
    #: The ``record-type`` annotation: ``ptr`` (any case) asks for reverse
    #: records, any other value opts out, absent leaves it to ``create_ptr``.
    ptr: bool | None = None

    @property
    def label(self) -> str:
        return f"{self.ref.kind} {self.ref.namespace}/{self.ref.name}"

    def at(self, place: str) -> str:
        """``where`` text for a field of this object."""
        return f"{self.label}: {place}"

    def annotation(self, key: str) -> tuple[str, str] | None:
        return find(self.annotations, key, self.options.annotation_prefix)

    def key(self, key: str) -> str:
        """The full annotation name of ``key``, for messages."""
        return self.options.annotation_prefix + key

    def error(self, message: str, place: str = "") -> None:
        self.errors.append(InvalidInput(message, where=self.at(place) if place else self.label))

    def failed(self) -> Conversion:
        """The object produces nothing; its errors are reported."""
        return Conversion((), tuple(self.errors), True)

    def hostnames_from(self, key: str) -> list[str] | None:
        """Valid names of a hostname-style annotation; None when it is absent.

        Bad items are reported and skipped; the good ones still count.
        """
        found = self.annotation(key)
        if found is None:
            return None
        full, value = found
        items = split_list(value)
        if not items:
            self.error(f"{value!r} holds no host name", f"annotation {full}")
        hosts: list[str] = []
        for item in items:
            try:
                hosts.append(parse_hostname(item, where=self.at(f"annotation {full}")))
            except InvalidInput as e:
                self.errors.append(e)
        return hosts

    def host_field(self, value: object, place: str) -> str | None:
        """A host name from a spec field; an empty one is skipped quietly."""
        if value is None or value == "":
            return None  # a rule without host is a catch-all, as in external-dns
        if not isinstance(value, str):
            self.error(f"{value!r} is not a string", place)
            return None
        try:
            return parse_hostname(value, where=self.at(place))
        except InvalidInput as e:
            self.errors.append(e)
            return None

    def status_targets(self, obj: Mapping[str, Any]) -> list[tuple[str, str]] | None:
        """Targets from ``status.loadBalancer.ingress``; None if a value is bad."""
        entries = sequence(mapping(mapping(obj.get("status")).get("loadBalancer")).get("ingress"))
        ips: list[tuple[str, str]] = []
        hosts: list[tuple[str, str]] = []
        ok = True
        for i, entry in enumerate(entries):
            entry = mapping(entry)
            for field_name, bucket in (("ip", ips), ("hostname", hosts)):
                value = entry.get(field_name)
                if value in (None, ""):
                    continue
                place = f"status.loadBalancer.ingress[{i}].{field_name}"
                if not isinstance(value, str):
                    self.error(f"{value!r} is not a string", place)
                    ok = False
                    continue
                try:
                    bucket.append(parse_target(value, where=self.at(place)))
                except InvalidInput as e:
                    self.errors.append(e)
                    ok = False
        if not ok:
            return None
        # A controller may list an address and its host name: the address wins.
        return ips or hosts

    def default_targets(self) -> list[tuple[str, str]] | None:
        """``options.default_targets`` parsed; None (and errors) if one is bad."""
        targets: list[tuple[str, str]] = []
        for text in self.options.default_targets:
            try:
                targets.append(parse_target(text, where=self.at("default target")))
            except InvalidInput as e:
                self.errors.append(e)
                return None
        return targets

    def group(
        self, targets: Iterable[tuple[str, str]], origin: str
    ) -> dict[str, tuple[str, ...]] | None:
        """Targets by record type; None (and an error) if they can't share one name."""
        by_type: dict[str, set[str]] = {}
        for type_, value in targets:
            by_type.setdefault(type_, set()).add(value)
        cnames = by_type.get("CNAME", set())
        if cnames and len(by_type) > 1:
            addresses = sorted(by_type.get("A", set()) | by_type.get("AAAA", set()))
            self.error(
                f"targets mix host names {sorted(cnames)} with IP addresses {addresses}; "
                "a name can't hold a CNAME beside A/AAAA records",
                origin,
            )
            return None
        if len(cnames) > 1:
            self.error(
                f"{len(cnames)} host name targets {sorted(cnames)}; a CNAME holds exactly one",
                origin,
            )
            return None
        return {t: tuple(sorted(v)) for t, v in by_type.items()}

    def endpoints(self, wanted: Iterable[tuple[str, Mapping[str, tuple[str, ...]]]]) -> Conversion:
        """One endpoint per (name, type) from ``(name, targets by type)`` pairs."""
        merged: dict[str, dict[str, set[str]]] = {}
        for name, by_type in wanted:
            slot = merged.setdefault(name, {})
            for type_, values in by_type.items():
                slot.setdefault(type_, set()).update(values)
        result: list[Endpoint] = []
        for name in sorted(merged):
            slot = merged[name]
            if "CNAME" in slot and (len(slot) > 1 or len(slot["CNAME"]) > 1):
                asked = "; ".join(f"{t} {', '.join(sorted(v))}" for t, v in sorted(slot.items()))
                self.error(
                    f"{name} is asked for with incompatible targets ({asked}); it is skipped"
                )
                continue
            if slot.get("CNAME") == {name}:
                self.error(f"{name} would be a CNAME to itself; it is skipped")
                continue
            for type_ in sorted(slot):
                values = tuple(sorted(slot[type_]))
                if values:
                    result.append(Endpoint(name, type_, values, self.ref, self.ttl, self.ptr))
        return Conversion(tuple(result), tuple(self.errors), True)


def begin(obj: object, kind: str, options: SourceOptions) -> ObjectWork | Conversion:
    """Identity, filter, and the annotations every endpoint depends on.

    Returns a finished :class:`Conversion` when the object is not ours or
    can't produce anything, else the work to continue with.
    """
    if not isinstance(obj, Mapping):
        return Conversion((), (InvalidInput(f"a {kind} must be a mapping", where=kind),), True)
    meta = mapping(obj.get("metadata"))
    name = meta.get("name")
    namespace = meta.get("namespace") or "default"
    raw_annotations = mapping(meta.get("annotations"))
    annotations = {
        k: v for k, v in raw_annotations.items() if isinstance(k, str) and isinstance(v, str)
    }
    options_filter = options.annotation_filter
    if options_filter is not None and not options_filter.matches(annotations):
        return NOT_SELECTED
    controller = get(annotations, "controller", options.annotation_prefix)
    if controller is not None and controller != CONTROLLER_VALUE:
        return NOT_SELECTED  # another controller's object, as in external-dns
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        where = f"{kind} {namespace}/{name}" if isinstance(namespace, str) else kind
        return Conversion(
            (),
            (
                InvalidInput(
                    "metadata.name and metadata.namespace must be non-empty strings", where=where
                ),
            ),
            True,
        )
    work = ObjectWork(ObjectRef(kind, namespace, name), annotations, options)
    bad = sorted(
        str(k)
        for k, v in raw_annotations.items()
        if not (isinstance(k, str) and isinstance(v, str))
    )
    if bad:
        # The API server refuses these; in a manifest, quote the value.  They
        # are left out of `annotations` above, so only they are ignored.
        work.error(
            f"annotation values must be strings (quote them in YAML); ignored: {', '.join(bad)}"
        )
    work.ttl = options.default_ttl
    ttl_found = work.annotation("ttl")
    if ttl_found is not None:
        full, value = ttl_found
        try:
            work.ttl = parse_ttl(value, where=work.at(f"annotation {full}"))
        except InvalidInput as e:
            # external-dns logs it and publishes with its default TTL.
            work.errors.append(InvalidInput(f"{e.message}; the default TTL is used", where=e.where))
    record_type = work.annotation("record-type")
    work.ptr = ptr_wish(None if record_type is None else record_type[1])
    target_found = work.annotation("target")
    if target_found is not None and target_found[1].strip():
        full, value = target_found
        try:
            work.annotation_targets = parse_targets(value, where=work.at(f"annotation {full}"))
        except InvalidInput as e:
            work.errors.append(e)
            return work.failed()
    return work


def ptr_wish(record_type: str | None) -> bool | None:
    """What a ``record-type`` annotation says about reverse records (None: absent).

    external-dns compares it with ``ptr`` ignoring case, and nothing else: any
    other value, the empty one too, opts out.
    """
    return None if record_type is None else record_type.lower() == "ptr"


def no_names(work: ObjectWork, hint: str) -> Conversion:
    """An object that names no host.

    Without a filter every object is looked at, so one without names is simply
    not ours (external-dns skips it quietly).  With a filter the object opted
    in, so a missing host name is a mistake worth reporting.
    """
    if work.errors:
        return work.failed()
    if work.options.annotation_filter is None:
        return NOT_SELECTED
    work.error(f"no host name: {hint}")
    return work.failed()
