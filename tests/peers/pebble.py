"""Pebble, Let's Encrypt's test ACME server, with its test CA and listening cert from its module."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.peers._common import Peer, go_build, go_module_copy

MODULE = "github.com/letsencrypt/pebble/v2"
VERSION = "v2.10.3"


def _build(dest: Path) -> None:
    source = go_module_copy(MODULE, VERSION, dest)
    go_build(source, {"pebble": "./cmd/pebble"}, dest)
    # The test CA signs pebble's own HTTPS certificate; clients trust only this file.
    shutil.copytree(source / "test", dest / "test")
    shutil.rmtree(source)


PEER = Peer("pebble", VERSION, _build)
