"""Fixtures for the interop tier: Pebble on loopback validating against the session's BIND.

- `pebble`: Pebble (Let's Encrypt's test CA) with ``-dnsserver`` pointed at `bind_server`
  (see clients.py for how it runs); its CA is trusted only by the clients the tests start.
- `hook_config(zone)`: a dnssync config file whose acme section writes into ``zone``.

clients.py also has `leftovers(server, zone)`: the ``_acme-challenge`` values and
``_dnssync-acme`` markers still in a zone (by AXFR), which must be none after each issuance.

Peers come from tests/peers (built into the cache on first use); a peer that cannot be
built fails the test with the build's output. Nothing here skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dnsservers import BindServer
from tests.peers._common import PeerUnavailable

from .clients import Pebble, PebbleFailed, start_pebble, write_hook_config


@pytest.fixture(scope="session")
def pebble(bind_server: BindServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Pebble on loopback; its DNS-01 checks ask the session's BIND."""
    dns_server = f"{bind_server.host}:{bind_server.port}"
    try:
        running = start_pebble(dns_server, tmp_path_factory.mktemp("pebble"))
    except (PeerUnavailable, PebbleFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def hook_config(bind_server: BindServer, tmp_path: Path) -> Callable[..., Path]:
    """``hook_config(zone, **acme)``: the config file the hook processes read."""

    def make(zone: str, **acme: Any) -> Path:
        return write_hook_config(tmp_path, bind_server, zone, **acme)

    return make
