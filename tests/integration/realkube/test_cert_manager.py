"""A real cert-manager issues a Certificate from Pebble through dnssync's webhook.

cert-manager's controller (its own control loops, v1.21.2, built by tests/peers/cert_manager.py)
runs out of cluster against the tier's kube-apiserver as ServiceAccount cert-manager/cert-manager,
with leader election off. Its ClusterIssuer points at Pebble on loopback (Pebble's CA given as the
issuer's ``caBundle``) and solves DNS-01 with ``webhook: {groupName, solverName}``: cert-manager
POSTs ChallengePayloads to the aggregated API, the apiserver forwards them to dnssync's webhook
(the shipped APIService, Service and solver binding), and dnssync writes the TXT value into BIND.
cert-manager's own DNS-01 self-check asks that BIND only (``--dns01-recursive-nameservers`` and
``--dns01-recursive-nameservers-only``), as Pebble's validation does.
"""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from cryptography import x509

from tests.integration.acme.interop.clients import Pebble, PebbleFailed, leftovers, start_pebble
from tests.integration.realkube.conftest import Tier, wait_until
from tests.integration.realkube.test_webhook import GROUP, SERVICE_PORT, SOLVER, expose
from tests.integration.realkube.test_webhook import webhook_config as solver_config
from tests.peers import cert_manager as cm_peer
from tests.peers._common import PeerUnavailable
from tests.realkube import cert_manager_crd

pytestmark = pytest.mark.timeout(600)

CM = "cert-manager"
CRDS = ("certificates", "certificaterequests", "issuers", "clusterissuers", "orders", "challenges")
# What the controller's loops read and write here; the webhook's call is the shipped binding's.
CONTROLLER_RULES = [
    {"apiGroups": ["cert-manager.io", "acme.cert-manager.io"], "resources": ["*"], "verbs": ["*"]},
    {
        "apiGroups": [""],
        "resources": ["secrets", "events", "pods", "services", "configmaps"],
        "verbs": ["*"],
    },
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["*"]},
    # The HTTP-01 solver's informers: every loop waits for all caches to sync.
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["*"]},
    {
        "apiGroups": ["cert-manager.io"],
        "resources": ["signers"],
        "resourceNames": ["clusterissuers.cert-manager.io/*", "issuers.cert-manager.io/*"],
        "verbs": ["approve"],
    },
]


def controller_objects() -> list[dict[str, Any]]:
    """Namespace, ServiceAccount and RBAC of the controller (the solver binding is shipped)."""
    meta = {"name": "cert-manager-controller-test"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CM}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": CM, "namespace": CM}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta,
            "rules": CONTROLLER_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", **meta},
            "subjects": [{"kind": "ServiceAccount", "name": CM, "namespace": CM}],
        },
    ]


def cluster_issuer(pebble: Pebble) -> dict[str, Any]:
    bundle = base64.b64encode(pebble.ca_file.read_bytes()).decode()
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "pebble"},
        "spec": {
            "acme": {
                "server": pebble.directory,
                "caBundle": bundle,
                "privateKeySecretRef": {"name": "pebble-account"},
                "solvers": [
                    {"dns01": {"webhook": {"groupName": GROUP, "solverName": SOLVER}}},
                ],
            }
        },
    }


def certificate(name: str, dns_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [dns_name],
            "issuerRef": {"name": "pebble", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "privateKey": {"algorithm": "ECDSA", "size": 256},
        },
    }


def pebble_root(pebble: Pebble) -> x509.Certificate:
    """The root Pebble generated at start-up, from its management interface."""
    config = json.loads((pebble.log.parent / "pebble.json").read_text())
    address = config["pebble"]["managementListenAddress"]
    context = ssl.create_default_context(cafile=str(pebble.ca_file))
    with urllib.request.urlopen(f"https://{address}/roots/0", context=context, timeout=10) as r:
        return x509.load_pem_x509_certificate(r.read())


def condition(tier: Tier, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The Ready condition of a cert-manager object ({} while it has none)."""
    where = ["-n", namespace] if namespace else []
    out = tier.plane.kubectl("get", kind, name, *where, "-o", "json", check=False).stdout
    status = json.loads(out or "{}").get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
    return dict(ready[0]) if ready else {}


@pytest.fixture
def pebble_for(tier: Tier) -> Iterator[Pebble]:
    """Pebble validating against the tier's BIND."""
    try:
        running = start_pebble(f"{tier.bind.host}:{tier.bind.port}", tier.workdir)
    except (PeerUnavailable, PebbleFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield running
    running.stop()


@pytest.fixture
def controller(tier: Tier) -> Iterator[subprocess.Popen[bytes]]:
    """cert-manager's controller as ServiceAccount cert-manager/cert-manager, its log kept."""
    try:
        binary = cm_peer.controller()
    except PeerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    for plural in CRDS:
        tier.plane.install_crd(cert_manager_crd(plural))
    tier.plane.apply(controller_objects())
    kubeconfig = tier.plane.service_account_kubeconfig(CM, CM, tier.workdir / "cm.kubeconfig")
    log = tier.workdir / "cert-manager.log"
    argv = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--cluster-resource-namespace={CM}",
        f"--dns01-recursive-nameservers={tier.bind.host}:{tier.bind.port}",
        "--dns01-recursive-nameservers-only",
        "--dns01-check-retry-period=1s",
        "--v=2",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_cert_manager_issues_a_certificate_through_the_webhook(
    tier: Tier, pebble_for: Pebble, controller: subprocess.Popen[bytes]
) -> None:
    """A Certificate becomes Ready, its Secret chains to Pebble's root, no value is left."""
    ca = trustme.CA()
    serving = ca.issue_cert("dnssync-webhook.dnssync.svc", "dnssync-webhook.dnssync")
    cluster_ip = expose(tier, ca)
    run = tier.dnssync(solver_config(tier, cluster_ip, SERVICE_PORT, serving))
    cm_log = tier.workdir / "cert-manager.log"

    def why() -> str:
        tail = cm_log.read_text(errors="replace")[-5000:]
        return f"cert-manager (exit {controller.poll()}) log tail:\n{tail}\n{run.describe()}"

    tier.plane.apply([cluster_issuer(pebble_for)])
    try:
        wait_until(
            lambda: condition(tier, "clusterissuer", "pebble").get("status") == "True",
            120,
            "ClusterIssuer Ready",
            every=0.5,
        )
    except AssertionError as exc:
        state = condition(tier, "clusterissuer", "pebble")
        raise AssertionError(f"{exc}: {state}\n{why()}") from None

    dns_name = f"www.{tier.zone}"
    started = time.monotonic()
    tier.plane.apply([certificate("www", dns_name)])
    try:
        wait_until(
            lambda: condition(tier, "certificate", "www", "apps").get("status") == "True",
            300,
            "Certificate Ready",
            every=0.5,
        )
    except AssertionError as exc:
        state = condition(tier, "certificate", "www", "apps")
        raise AssertionError(f"{exc}: {state}\n{why()}") from None
    took = time.monotonic() - started

    secret = json.loads(
        tier.plane.kubectl("get", "secret", "www-tls", "-n", "apps", "-o", "json").stdout
    )
    chain = x509.load_pem_x509_certificates(base64.b64decode(secret["data"]["tls.crt"]))
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [dns_name]
    for child, parent in itertools.pairwise(chain):
        child.verify_directly_issued_by(parent)
    chain[-1].verify_directly_issued_by(pebble_root(pebble_for))

    # cert-manager's CleanUp ran through the webhook once the Challenge was valid.
    wait_until(lambda: not leftovers(tier.bind, tier.zone), 60, "no _acme-challenge left")
    print(f"cert-manager: Certificate Ready {took:.1f} s after it was created")
