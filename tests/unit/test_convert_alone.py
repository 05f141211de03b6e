"""An object converts as it is read only when its converter looks nothing up."""

from __future__ import annotations

from typing import Any

from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import convert, convert_alone, ref_of

PREFIX = "external-dns.alpha.kubernetes.io/"
OPTIONS = SourceOptions(annotation_prefix=PREFIX, manifests=True)


def service(spec: dict[str, Any], **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "apps",
            "annotations": {PREFIX + k: v for k, v in annotations.items()},
        },
        "spec": spec,
    }


def test_a_service_with_a_target_converts_alone_as_with_every_object_at_hand() -> None:
    """The same endpoints as the conversion that may look up, which asked for nothing."""
    obj = service({"type": "ClusterIP"}, hostname="web.example.test", target="192.0.2.7")
    alone = convert_alone("service", obj, OPTIONS)
    full, asked = convert(ref_of("service", obj), obj, OPTIONS, {})
    assert alone is not None and alone.endpoints
    assert (alone.endpoints, asked) == (full.endpoints, frozenset())


def test_objects_that_look_others_up_wait() -> None:
    """A NodePort Service (its Nodes) and a route (its Gateway) give None."""
    nodeport = service({"type": "NodePort", "ports": [{"port": 80}]}, hostname="np.example.test")
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "apps"},
        "spec": {"hostnames": ["r.example.test"], "parentRefs": [{"name": "gw"}]},
    }
    assert convert_alone("service", nodeport, OPTIONS) is None
    assert convert_alone("httproute", route, OPTIONS) is None
