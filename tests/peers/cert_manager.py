"""cert-manager's controller (its own control loops, v1.21.2) for the real-apiserver tier.

cert-manager publishes ``github.com/cert-manager/cert-manager`` on the Go module proxy, but
not ``.../cmd/controller`` (a module of its own, 404 on the proxy), so the command is our
small main in tests/integration/acme/certmanager/ that runs cert-manager's packages from
``pkg/controller/...``. The cache key holds cert-manager's version and a digest of the
main's files, as the conformance peer's does.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from tests.peers._common import Peer, go_build

CERT_MANAGER = "v1.21.2"  # kept equal to the main's go.mod
SOURCE = Path(__file__).resolve().parents[1] / "integration" / "acme" / "certmanager"
FILES = ("go.mod", "go.sum", "main.go")


def _digest() -> str:
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode() + b"\0" + (SOURCE / name).read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _build(dest: Path) -> None:
    source = dest / "src"
    source.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(SOURCE / name, source / name)
    go_build(source, {"cert-manager-controller": "."}, dest, ldflags="-s -w")
    shutil.rmtree(source)


PEER = Peer("cert-manager-controller", f"{CERT_MANAGER}-{_digest()}", _build)


def controller() -> Path:
    """The controller binary, built first if it is not cached."""
    return PEER.path("bin/cert-manager-controller")
