"""Headless Services: external-dns's TestHeadlessServices cases through the Service converter,
with a lookup over the Pods and EndpointSlices, and through the object index (a Pod's change
converts the Service again).
"""

from __future__ import annotations

from typing import Any

import pytest

from dnssync.model import ObjectRef
from dnssync.sources.annotations import DEFAULT_PREFIX as P
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import ObjectIndex
from dnssync.sources.lookup import Recorder
from dnssync.sources.services import service_endpoints
from tests.unit.extdns_cases import headless

NS = "testing"


def service(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "foo",
            "namespace": NS,
            "annotations": {
                P + "hostname": headless.S,
                **{P + k: v for k, v in annotations.items()},
            },
        },
        "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": {"component": "foo"}},
    }


def pod(
    name: str, hostname: str, target: str = "", node: str = "", host_ip: str = ""
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"component": "foo"},
            "annotations": {P + "target": target} if target else {},
        },
        "spec": {"hostname": hostname, "nodeName": node},
        "status": {"hostIP": host_ip},
    }


def endpoint_slice(pods: tuple[headless.Pod, ...]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "foo-abc",
            "namespace": NS,
            "labels": {"component": "foo", "kubernetes.io/service-name": "foo"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [ip],
                "targetRef": {"kind": "Pod", "name": name, "namespace": NS},
                "conditions": {"ready": ready},
            }
            for name, ip, _, ready in pods
        ],
    }


def objects(case: headless.HeadlessCase) -> dict[ObjectRef, dict[str, Any]]:
    found = {ObjectRef("pod", NS, n): pod(n, h, case.pod_target) for n, _, h, _ in case.pods}
    found[ObjectRef("endpointslice", NS, "foo-abc")] = endpoint_slice(case.pods)
    return found


@pytest.mark.parametrize("case", headless.CASES, ids=[c.upstream for c in headless.CASES])
def test_headless_service_cases(case: headless.HeadlessCase) -> None:
    """TestHeadlessServices: the Service name and each pod hostname get the endpoints' IPs."""
    svc = service()
    svc["spec"]["publishNotReadyAddresses"] = case.publish_not_ready
    result = service_endpoints(svc, SourceOptions(), Recorder(objects(case)))
    assert result.errors == ()
    assert {e.name: (e.type, e.targets) for e in result.endpoints} == case.records


def test_endpoints_type_host_ip_and_node_external_ip() -> None:
    """endpoints-type HostIP gives the Pod's host IP; NodeExternalIP its node's ExternalIPs."""
    objs: dict[ObjectRef, dict[str, Any]] = {
        ObjectRef("pod", NS, "foo-0"): pod("foo-0", "", node="n1", host_ip="10.0.0.9"),
        ObjectRef("endpointslice", NS, "foo-abc"): endpoint_slice(
            (("foo-0", "10.244.0.5", "", True),)
        ),
        ObjectRef("node", "", "n1"): {
            "metadata": {"name": "n1"},
            "status": {"addresses": [{"type": "ExternalIP", "address": "192.0.2.5"}]},
        },
    }
    for kind, want in (
        ("HostIP", "10.0.0.9"),
        ("NodeExternalIP", "192.0.2.5"),
        (None, "10.244.0.5"),
    ):
        svc = service(**({"endpoints-type": kind} if kind else {}))
        (ep,) = service_endpoints(svc, SourceOptions(), Recorder(objs)).endpoints
        assert ep.targets == (want,)


def test_a_pod_the_service_does_not_select_is_left_out() -> None:
    """An endpoint whose Pod lacks the selector's labels publishes nothing, as in external-dns."""
    case = headless.CASES[0]
    objs = objects(case)
    objs[ObjectRef("pod", NS, "foo-1")]["metadata"]["labels"] = {"component": "bar"}
    result = service_endpoints(service(), SourceOptions(), Recorder(objs))
    assert {e.name: e.targets for e in result.endpoints} == {
        f"foo-0.{headless.S}": ("1.1.1.1",),
        headless.S: ("1.1.1.1",),
    }


def test_a_pod_change_converts_the_headless_service_again() -> None:
    """A Pod going not-ready (its slice changes) withdraws its address from the Service name."""
    case = headless.CASES[0]
    index = ObjectIndex()
    view = index.view(SourceOptions(), {"service"})
    index.upsert("service", service())
    for ref, obj in objects(case).items():
        index.upsert(ref.kind, obj)
    assert {e.name: e.targets for e in view.endpoints()}[headless.S] == ("1.1.1.1", "1.1.1.2")
    view.take_changes()
    index.upsert("endpointslice", endpoint_slice((case.pods[0], (*case.pods[1][:3], False))))
    assert view.take_changes() == {ObjectRef("service", NS, "foo")}
    assert {e.name: e.targets for e in view.endpoints()}[headless.S] == ("1.1.1.1",)
