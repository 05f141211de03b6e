"""A real control plane for the real-apiserver tier: kube-apiserver and kubectl, and etcd.

Both come from the Go module proxy as module copies built in place: ``k8s.io/kubernetes``
replaces its staging modules with ``./staging/src/k8s.io/...`` directories that its module zip
does not hold, and etcd's server replaces api/client/pkg with ``../``; each is pointed at the
published module of the matching version instead. Only the two commands the tests run are
built (the whole of Kubernetes is ~30 binaries). ``envtest_env()`` names the binaries the way
controller-runtime's envtest (and cert-manager's webhook conformance suite) looks for them.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from tests.peers._common import Peer, go_build, go_module_copy, pin_local_replaces

KUBERNETES = "v1.36.3"
# The staging modules are published as v0.<minor>.<patch> of the release.
STAGING = "v0" + KUBERNETES[2:]
ETCD = "v3.6.16"
_GOFLAGS = "-mod=mod -buildvcs=false"


def _version_ldflags() -> str:
    major, minor = KUBERNETES[1:].split(".")[:2]
    built = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {
        "gitVersion": KUBERNETES,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": built,
    }
    # kube-apiserver reports component-base's; kubectl's client side reads client-go's.
    flags = [
        f"-X k8s.io/{pkg}/version.{key}={value}"
        for pkg in ("component-base", "client-go/pkg")
        for key, value in values.items()
    ]
    return " ".join(["-s", "-w", *flags])


def _build_kubernetes(dest: Path) -> None:
    source = go_module_copy("k8s.io/kubernetes", KUBERNETES, dest)
    pin_local_replaces(source, lambda module: STAGING if module.startswith("k8s.io/") else None)
    # The zip's vendor/ holds only an OWNERS file; it must not look like a vendor tree.
    shutil.rmtree(source / "vendor", ignore_errors=True)
    go_build(
        source,
        {"kube-apiserver": "./cmd/kube-apiserver", "kubectl": "./cmd/kubectl"},
        dest,
        ldflags=_version_ldflags(),
        GOFLAGS=_GOFLAGS,
    )
    shutil.rmtree(source)


def _build_etcd(dest: Path) -> None:
    source = go_module_copy("go.etcd.io/etcd/server/v3", ETCD, dest)
    pin_local_replaces(
        source, lambda module: ETCD if module.startswith("go.etcd.io/etcd/") else None
    )
    go_build(source, {"etcd": "."}, dest, ldflags="-s -w", GOFLAGS=_GOFLAGS)
    shutil.rmtree(source)


PEERS = (
    Peer("kubernetes", KUBERNETES, _build_kubernetes),
    Peer("etcd", ETCD, _build_etcd),
)
KUBE, ETCD_PEER = PEERS


def kube_apiserver() -> Path:
    return KUBE.path("bin/kube-apiserver")


def kubectl() -> Path:
    return KUBE.path("bin/kubectl")


def etcd() -> Path:
    return ETCD_PEER.path("bin/etcd")


def envtest_env() -> dict[str, str]:
    """``TEST_ASSET_*`` for envtest-based suites, building the binaries first if needed."""
    return {
        "TEST_ASSET_KUBE_APISERVER": str(kube_apiserver()),
        "TEST_ASSET_ETCD": str(etcd()),
        "TEST_ASSET_KUBECTL": str(kubectl()),
    }
