"""helm, Kubernetes' package manager, from the Go module proxy: lints and renders charts/dnssync."""

from __future__ import annotations

from pathlib import Path

from tests.peers._common import Peer, go_install

VERSION = "v3.22.0"


def _build(dest: Path) -> None:
    go_install("helm.sh/helm/v3/cmd/helm", VERSION, dest)


PEER = Peer("helm", VERSION, _build)
