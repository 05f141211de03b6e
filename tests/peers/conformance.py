"""cert-manager's DNS-01 webhook conformance suite, compiled with our forwarding shim.

The shim (tests/integration/acme/conformance/, our code) imports ``test/acme`` from
cert-manager; ``go test -c`` turns it into one test binary. The cache key holds
cert-manager's version and a digest of the shim's files, so editing the shim rebuilds it.
The suite starts a kube-apiserver + etcd through envtest: tests/peers/kube.py builds them.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from tests.peers._common import Peer, run

CERT_MANAGER = "v1.21.2"  # kept equal to the shim's go.mod
SHIM = Path(__file__).resolve().parents[1] / "integration" / "acme" / "conformance"
FILES = ("go.mod", "go.sum", "main_test.go")


def _digest() -> str:
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode() + b"\0" + (SHIM / name).read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _build(dest: Path) -> None:
    source = dest / "src"
    source.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(SHIM / name, source / name)
    (dest / "bin").mkdir()
    run(
        [
            "nice",
            "-n",
            "10",
            "go",
            "test",
            "-c",
            "-trimpath",
            "-o",
            dest / "bin" / "conformance.test",
            ".",
        ],
        cwd=source,
    )
    shutil.rmtree(source)


PEER = Peer("cm-conformance", f"{CERT_MANAGER}-{_digest()}", _build)
