"""external-dns v0.22.0, the tool dnssync replaces, for the both-ways migration tests.

Its go.mod carries ``replace`` directives, so ``go install ...@v0.22.0`` refuses it: the
module is downloaded and built inside a copy of it (the main package is the module root).

Two of its pinned dependencies are withheld by the module proxy ("403: this module version is not
available"): they are replaced by the nearest versions it serves.  Neither lies on the code paths
the tests use (the exoscale provider and the OpenShift route source).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.peers._common import Peer, go_build, go_module_copy, run

MODULE = "sigs.k8s.io/external-dns"
VERSION = "v0.22.0"
#: pinned dependency -> the version the proxy serves instead.
WITHHELD = {
    "github.com/exoscale/egoscale/v3": "v3.1.43",
    "github.com/openshift/api": "v0.0.0-20251015095338-264e80a2b6e7",  # v0.21.0's pin
}


def _build(dest: Path) -> None:
    source = go_module_copy(MODULE, VERSION, dest)
    edits = [f"-replace={path}={path}@{version}" for path, version in WITHHELD.items()]
    run(["go", "mod", "edit", *edits], cwd=source)
    go_build(source, {"external-dns": "."}, dest)
    shutil.rmtree(source)


PEER = Peer("external-dns", VERSION, _build)
