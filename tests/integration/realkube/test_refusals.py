"""Misconfigured clusters, as an operator meets them: each a clear line and a documented state.

README ("Running in a cluster"): a refusal (401/403/404) that outlasts
``kubernetes.refusal_grace`` ends `dnssync run` with exit 1 and one line; a replica that
cannot read or write its Lease stays up but is not ready (`/readyz` 503, "leader election").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.realkube.conftest import Dnssync, Tier, wait_until
from tests.realkube import cert_manager_crd

pytestmark = pytest.mark.timeout(600)

GRACE = 3.0  # kubernetes.refusal_grace for these tests (120 s by default)
BOGUS = "bogus-token-0f3a9c"


def _with_grace(cfg: dict[str, Any], kubeconfig: Path | None = None) -> dict[str, Any]:
    kube = dict(cfg["kubernetes"], refusal_grace=GRACE)
    if kubeconfig is not None:
        kube["kubeconfig"] = str(kubeconfig)
    return cfg | {"kubernetes": kube, "reconcile": dict(cfg["reconcile"], readiness_grace=1.0)}


def _one_clear_line(run: Dnssync) -> str:
    """The process's last line (the cause it stops on); every line one log line, no traceback."""
    out = run.output()
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, run.describe()
    assert "Traceback" not in out, run.describe()
    continued = [line for line in lines if line[0].isspace()]
    assert not continued, f"multi-line output: {continued[:3]}\n{run.describe()}"
    return lines[-1]


def _exits(run: Dnssync, within: float) -> int:
    wait_until(lambda: not run.alive(), within, "dnssync exits", every=0.1)
    return run.wait(1)


def test_bogus_token_exits_1_with_one_line_naming_the_credentials(tier: Tier) -> None:
    """A token the API server rejects (401): exit 1 after the grace, one line, token unprinted."""
    kubeconfig = tier.workdir / "bogus.kubeconfig"
    doc = yaml.safe_load(tier.kubeconfig.read_text())
    doc["users"][0]["user"] = {"token": BOGUS}
    kubeconfig.write_text(yaml.safe_dump(doc))
    run = tier.dnssync(_with_grace(tier.config(), kubeconfig))
    wait_until(lambda: run.get("/readyz")[0] == 503 or not run.alive(), 15, "not ready")
    assert _exits(run, GRACE + 30) == 1, run.describe()
    line = _one_clear_line(run)
    assert "401" in line, line
    assert "credentials" in line and "RBAC" not in line, line
    assert BOGUS not in run.output(), "the token was printed"


def test_missing_crd_exits_1_asking_whether_it_is_installed(tier: Tier) -> None:
    """Challenges watched, cert-manager's CRD not installed: exit 1, one line naming the CRD."""
    crd = cert_manager_crd("challenges")
    cfg = tier.config()
    target = cfg["targets"][0]
    cfg["acme"] = {
        "servers": [
            {
                "name": "bind",
                "server": target["server"],
                "key": target["key"],
                "zones": [tier.zone],
            }
        ],
        "webhook": {"enabled": False},
        "challenges": {"enabled": True},
    }
    tier.plane.kubectl("delete", "crd", crd["metadata"]["name"], "--wait=true")
    try:
        run = tier.dnssync(_with_grace(cfg))
        assert _exits(run, GRACE + 30) == 1, run.describe()
        line = _one_clear_line(run)
        assert "404" in line, line
        assert "challenges" in line and "is its CRD installed?" in line, line
    finally:
        tier.plane.install_crd(crd)


def test_missing_lease_rbac_is_not_ready_and_writes_nothing(tier: Tier) -> None:
    """No RBAC on Leases: dnssync stays up, /readyz 503 names leader election, DNS untouched."""
    plane = tier.plane
    plane.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "nolease", "namespace": "dnssync"},
            },
            {
                # The shipped ClusterRole (sources, Events), without the Lease Role's binding.
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "dnssync-nolease"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "dnssync",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "nolease", "namespace": "dnssync"}],
            },
        ]
    )
    kubeconfig = plane.service_account_kubeconfig(
        "dnssync", "nolease", tier.workdir / "nolease.kubeconfig"
    )
    plane.apply([tier.service("web", "192.0.2.40")])
    run = tier.dnssync(_with_grace(tier.config(), kubeconfig))

    def refused() -> bool:
        status, body = run.get("/readyz")
        if status != 503:
            return False
        problems = json.loads(body).get("problems", {})
        return "403" in str(problems.get("leader election", ""))

    wait_until(lambda: refused() or not run.alive(), 30, "/readyz 503 naming leader election")
    assert run.alive(), run.describe()
    problem = json.loads(run.get("/readyz")[1])["problems"]["leader election"]
    assert "lease" in problem.lower() and "RBAC" in problem, problem
    _, metrics = run.get("/metrics")
    assert 'dnssync_kube_failing{component="leader election"} 1.0' in metrics
    assert tier.lookup("web") == [], "a replica that cannot hold the Lease wrote DNS"
    assert run.alive(), run.describe()
    lines = [line for line in run.output().splitlines() if "leader election" in line]
    warned = [line for line in lines if "403" in line]
    # Said once, clearly -- not a warning every retry period.
    assert len(warned) == 1, warned
    _one_clear_line(run)
