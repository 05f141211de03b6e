"""The Helm chart on a real kube-apiserver: its objects pass the server's own validation and apply,
and dnssync runs under the chart's RBAC alone.

The control plane is tests/realkube.py's (etcd + kube-apiserver, RBAC on, no controllers),
with cert-manager's real Issuer and Certificate CRDs. `helm template` output goes through
`kubectl apply --dry-run=server` (strict field validation: an unknown field fails) and then
is applied. dnssync then runs as a process with a token of the chart's ServiceAccount, from the
config the chart rendered: it takes the chart's Lease, watches Services, and publishes a
Service's record on a real BIND, with no request refused.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest
import yaml

from tests.dnsservers import BindServer
from tests.integration.test_chart import FULL, NAMESPACE, RELEASE, template, write_values
from tests.realkube import ControlPlane, cert_manager_crd, free_port

Obj = dict[str, Any]
APPS = "chart-apps"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane with cert-manager's Issuer and Certificate kinds, and the namespaces."""
    control = ControlPlane(tmp_path_factory.mktemp("chart-apiserver"))
    control.start()
    try:
        control.apply([cert_manager_crd("issuers"), cert_manager_crd("certificates")])
        control.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/issuers.cert-manager.io",
            "crd/certificates.cert-manager.io",
        )
        for namespace in (NAMESPACE, APPS):
            control.kubectl("create", "namespace", namespace)
        yield control
    finally:
        control.close()


def dump(objs: Sequence[Obj]) -> str:
    return yaml.safe_dump_all(list(objs))


def test_rendered_chart_passes_the_servers_validation_and_applies(plane: ControlPlane) -> None:
    """Full values (webhook, cert-manager TLS, created Secret): server dry run, then applied."""
    # The ServiceMonitor's kind needs prometheus-operator's CRD, which this server lacks.
    objs = template(FULL, sets=["serviceMonitor.enabled=false"])
    dry = plane.kubectl("apply", "--dry-run=server", "-f", "-", input=dump(objs), check=False)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("(server dry run)") == len(objs), dry.stdout
    assert "Warning" not in dry.stderr, dry.stderr

    # The dry run is a real check: an unknown field is refused, as it would be by a cluster.
    broken = [
        dict(o, spec={**o["spec"], "replicass": 2}) if o["kind"] == "Deployment" else o
        for o in objs
    ]
    bad = plane.kubectl("apply", "--dry-run=server", "-f", "-", input=dump(broken), check=False)
    assert bad.returncode != 0 and "replicass" in bad.stderr, bad.stderr

    plane.apply(objs)
    for o in objs:
        where = ["-n", o["metadata"]["namespace"]] if "namespace" in o["metadata"] else []
        got = plane.kubectl("get", o["kind"], o["metadata"]["name"], *where, "-o", "name")
        assert got.stdout.strip(), f"{o['kind']} {o['metadata']['name']} not stored"


def run_values(bind: BindServer, zone: str) -> dict[str, Any]:
    """One target on the test's BIND, its key in the chart's Secret; no ACME."""
    return {
        "targets": [
            {
                "name": "internal",
                "server": {"host": bind.host, "port": bind.port},
                "zones": [zone],
                "key": {"name": bind.key.name, "algorithm": bind.key.algorithm},
                "policy": "sync",
                "owner_id": "chart",
                "txt_prefix": "extdns-",
                "annotation_prefix": "external-dns.alpha.kubernetes.io/",
            }
        ],
        "tsig": {"secrets": {bind.key.name: bind.key.secret}},
        "leaderElection": {"duration": 8, "renewDeadline": 5, "retryPeriod": 1},
        "config": {"reconcile": {"debounce": 0.02}, "log": {"level": "info", "format": "text"}},
    }


def local_config(objs: Sequence[Obj], tmp: Path, kubeconfig: Path, port: int) -> Path:
    """The chart's config.yaml as the Pod reads it, its files and API endpoint made local."""
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap"]
    (secret,) = [o for o in objs if o["kind"] == "Secret"]
    data = yaml.safe_load(cm["data"]["config.yaml"])
    for target in data["targets"]:
        name = target["key"]["name"]
        key_file = tmp / name
        key_file.write_text(secret["stringData"][name])
        target["key"]["secret_file"] = str(key_file)
    data.setdefault("kubernetes", {})["kubeconfig"] = str(kubeconfig)
    data["http"] = {"host": "127.0.0.1", "port": port}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def wait_for(probe: Any, what: str, log: Path, within: float = 30) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"{what} within {within:g} s; dnssync log:\n{log.read_text()[-3000:]}")


def test_dnssync_runs_under_the_charts_rbac(
    plane: ControlPlane, bind_server: BindServer, tmp_path: Path
) -> None:
    """With only the chart's RBAC: dnssync takes its Lease and publishes a Service's record."""
    zone = "chart.test"
    bind_server.add_zone(zone)
    objs = template(write_values(tmp_path, run_values(bind_server, zone)))
    plane.apply(objs)
    token = plane.service_account_kubeconfig(NAMESPACE, RELEASE, tmp_path / "sa.kubeconfig")
    port = free_port()
    config = local_config(objs, tmp_path, token, port)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": APPS,
            "annotations": {
                "external-dns.alpha.kubernetes.io/hostname": f"web.{zone}",
                "external-dns.alpha.kubernetes.io/target": "192.0.2.80",
            },
        },
        "spec": {"ports": [{"port": 80}]},
    }
    plane.apply([service])
    log = tmp_path / "dnssync.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dnssync", "run", "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        def answer() -> list[str]:
            query = dns.message.make_query(f"web.{zone}", dns.rdatatype.A)
            reply = dns.query.udp(query, bind_server.host, port=bind_server.port, timeout=2)
            return [r.to_text() for rrset in reply.answer for r in rrset]

        assert wait_for(answer, "web's A record on BIND", log) == ["192.0.2.80"]

        def holder() -> str:
            lease = plane.kubectl(
                "get", "lease", "dnssync", "-n", NAMESPACE, "-o", "yaml", check=False
            )
            if lease.returncode:
                return ""
            return str(yaml.safe_load(lease.stdout)["spec"].get("holderIdentity") or "")

        assert wait_for(holder, "the chart's Lease held", log)

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        assert wait_for(ready, "/readyz 200", log)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "forbidden" not in text.lower() and not re.search(r"\b403\b", text), text[-3000:]
