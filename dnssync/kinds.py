"""The source registry: every Kubernetes kind dnssync can publish from, one entry each.

Pure data (no I/O, no imports of the layers above): the config validates a
target's ``sources:`` against it, the Kubernetes edge builds its informers and
Event references from it, the object index trims objects to the fields an
entry names, the manifests reader picks documents by its kinds and API
groups, and the shipped RBAC is checked against it.  An entry names its
converter (``module:function``, a pure function from one raw object to a
:class:`~dnssync.sources.convert.Conversion`) by path, so this table stays
below the converters it lists.

Adding a source kind is one converter module plus one entry here.  The
``name`` is external-dns's ``--source`` value, so flags translate one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SourceKind:
    """One kind of object that may ask for DNS records."""

    #: external-dns's ``--source`` value (``service``, ``ingress``, ...).
    name: str
    #: dnssync's name of the kind (an ``ObjectRef.kind``: in logs, Events, metrics).
    ref: str
    #: API group ("" for the core group), the version read, Kind and plural.
    group: str
    version: str
    kind: str
    plural: str
    #: The converter, ``module:function``.
    converter: str
    #: The ``spec`` and ``status`` fields the converter reads; the rest is dropped
    #: when an object is stored (memory on large clusters).
    spec_fields: tuple[str, ...]
    status_fields: tuple[str, ...] = ()
    #: Other API groups whose apiVersion a manifest of this kind may carry.
    legacy_groups: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def fits(self, api_version: object) -> bool:
        """Whether a manifest's ``apiVersion`` belongs to this kind's group."""
        if api_version is None:
            return True  # items of a raw API list carry no apiVersion
        if not isinstance(api_version, str):
            return False
        group = api_version.rpartition("/")[0]
        return group == self.group or group in self.legacy_groups


KINDS: Final = (
    SourceKind(
        name="service",
        ref="service",
        group="",
        version="v1",
        kind="Service",
        plural="services",
        converter="dnssync.sources.services:service_endpoints",
        spec_fields=("type", "externalName", "clusterIP", "clusterIPs", "externalIPs"),
        status_fields=("loadBalancer",),
    ),
    SourceKind(
        name="ingress",
        ref="ingress",
        group="networking.k8s.io",
        version="v1",
        kind="Ingress",
        plural="ingresses",
        converter="dnssync.sources.ingresses:ingress_endpoints",
        spec_fields=("rules", "tls", "ingressClassName"),
        status_fields=("loadBalancer",),
        legacy_groups=("extensions",),
    ),
)

#: By ``--source`` name, and by dnssync's kind name.
BY_NAME: Final = {k.name: k for k in KINDS}
BY_REF: Final = {k.ref: k for k in KINDS}
#: What ``sources:`` defaults to: external-dns's usual pair.
DEFAULT_SOURCES: Final = ("service", "ingress")
