"""The ACME webhook as an aggregated API, reached through the real kube-apiserver.

The shipped APIService and Service (config/acme) are applied as they are, plus the caBundle
cert-manager's cainjector would add. With no kube-proxy, the control plane's ClusterIPs are
loopback addresses the apiserver dials itself, so dnssync's webhook listens on the Service's
ClusterIP and port (Endpoints and EndpointSlices refuse loopback addresses, so routing to
endpoints cannot reach a process on this host). cert-manager's ServiceAccount then
POSTs a ChallengePayload through the apiserver, which authenticates and authorizes it (the
shipped ``dnssync-acme-solver`` binding), and forwards it with its front-proxy certificate.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
import trustme

from tests.integration.realkube.conftest import Tier, wait_until
from tests.realkube import shipped_objects

pytestmark = pytest.mark.timeout(300)

GROUP, SOLVER = "acme.dnssync.io", "dnssync"
KEY = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
SERVICE_PORT = 443  # config/acme/service.yaml


def post(tier: Tier, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST a ChallengePayload to the solver through the apiserver, as ``token``'s user."""
    request = urllib.request.Request(
        f"{tier.plane.url}/apis/{GROUP}/v1alpha1/{SOLVER}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    context = ssl.create_default_context(cafile=str(tier.plane.ca_file))
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def payload(tier: Tier, action: str) -> dict[str, Any]:
    return {
        "apiVersion": "webhook.acme.cert-manager.io/v1alpha1",
        "kind": "ChallengePayload",
        "request": {
            "uid": f"uid-{action}",
            "action": action,
            "type": "dns-01",
            "dnsName": f"www.{tier.zone}",
            "key": KEY,
            "resourceNamespace": "cert-manager",
            "resolvedFQDN": f"_acme-challenge.www.{tier.zone}.",
            "resolvedZone": f"{tier.zone}.",
            "allowAmbientCredentials": False,
            "config": {},
        },
    }


def webhook_config(tier: Tier, host: str, port: int, cert: trustme.LeafCert) -> dict[str, Any]:
    cert_file, key_file = tier.workdir / "tls.crt", tier.workdir / "tls.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    target = tier.config()["targets"][0]
    # The shipped shape: one `dnssync run` with its targets and the ACME side.
    return tier.config(
        acme={
            "owner_id": "realk8s",
            "servers": [
                {
                    "name": "bind",
                    "server": target["server"],
                    "key": target["key"],
                    "zones": [tier.zone],
                }
            ],
            "webhook": {
                "host": host,
                "port": port,
                "group_name": GROUP,
                "solver_name": SOLVER,
                "cert_file": str(cert_file),
                "key_file": str(key_file),
            },
            "challenges": {"enabled": False},
        },
    )


def expose(tier: Tier, ca: trustme.CA) -> str:
    """The shipped APIService (with a caBundle) and Service; the Service's ClusterIP."""
    objs = shipped_objects(("APIService", "Service"))
    (api_service,) = [o for o in objs if o["kind"] == "APIService"]
    (service,) = [o for o in objs if o["metadata"]["name"] == "dnssync-webhook"]
    api_service["spec"]["caBundle"] = base64.b64encode(ca.cert_pem.bytes()).decode()
    # The availability check wants a ready endpoint for the port, though the proxy dials the
    # ClusterIP: a placeholder address (TEST-NET, never dialled) stands for the Pods.
    (svc_port,) = service["spec"]["ports"]
    placeholder = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "dnssync-webhook-pods",
            "namespace": service["metadata"]["namespace"],
            "labels": {
                "kubernetes.io/service-name": service["metadata"]["name"],
                "endpointslice.kubernetes.io/managed-by": "realkube-tests",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": svc_port["name"], "port": 8443, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["192.0.2.1"], "conditions": {"ready": True}}],
    }
    tier.plane.apply([service, placeholder, api_service])
    return tier.plane.kubectl(
        "get", "service", "dnssync-webhook", "-n", "dnssync", "-o", "jsonpath={.spec.clusterIP}"
    ).stdout.strip()


def test_solver_reached_through_the_aggregated_api(tier: Tier) -> None:
    """cert-manager's POST through the apiserver presents and cleans up the TXT value."""
    tier.plane.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}},
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "cert-manager", "namespace": "cert-manager"},
            },
        ]
    )
    token = tier.plane.kubectl("create", "token", "cert-manager", "-n", "cert-manager").stdout
    ca = trustme.CA()
    cert = ca.issue_cert("dnssync-webhook.dnssync.svc", "dnssync-webhook.dnssync")
    # The apiserver dials the ClusterIP (a loopback address here) on the Service's port.
    cluster_ip = expose(tier, ca)
    run = tier.dnssync(webhook_config(tier, cluster_ip, SERVICE_PORT, cert))

    def available() -> bool:
        out = tier.plane.kubectl(
            "get",
            "apiservice",
            f"v1alpha1.{GROUP}",
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Available')]}",
        ).stdout
        seen[:] = [out]
        return '"status":"True"' in out

    seen: list[str] = []
    try:
        wait_until(available, 60, "APIService Available", every=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {seen[0]} ({run.describe()})") from None

    status, answer = post(tier, token.strip(), payload(tier, "Present"))
    assert status in (200, 201), answer
    assert answer["response"]["success"] is True, answer
    assert answer["response"]["uid"] == "uid-Present"
    assert tier.lookup("_acme-challenge.www", "TXT") == [f'"{KEY}"']

    status, answer = post(tier, token.strip(), payload(tier, "CleanUp"))
    assert status in (200, 201) and answer["response"]["success"] is True, answer
    assert tier.lookup("_acme-challenge.www", "TXT") == []

    # Anyone else is stopped by the apiserver's RBAC before reaching dnssync.
    dnssync_token = tier.plane.kubectl("create", "token", "dnssync", "-n", "dnssync").stdout
    status, answer = post(tier, dnssync_token.strip(), payload(tier, "Present"))
    assert status == 403, answer
