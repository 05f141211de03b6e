"""lego (Go module proxy) gets real certificates from Pebble with dnssync as its ``exec`` provider.

lego runs ``$EXEC_PATH present|cleanup <fqdn> <value>`` in its default mode and
``present|cleanup -- <domain> <token> <keyAuth>`` with ``EXEC_MODE=RAW``; both are
dnssync's hook. After each issuance the zone holds no value and no marker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dnsservers import BindServer

from .clients import Pebble, hook_env, hook_script, leftovers, lego

pytestmark = pytest.mark.timeout(300)
# lego waits this long between challenges of a "sequential" provider (exec is one).
LEGO_PACE = {"EXEC_SEQUENCE_INTERVAL": "1", "EXEC_POLLING_INTERVAL": "1"}


@pytest.mark.parametrize("mode", ["default", "RAW"])
@pytest.mark.parametrize("names", [["x.{z}"], ["{z}", "*.{z}"]], ids=["single", "apex+wildcard"])
async def test_lego_exec_issues_through_dnssync(
    mode: str,
    names: list[str],
    pebble: Pebble,
    bind_server: BindServer,
    acme_zone: str,
    hook_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """lego --dns exec + dnssync's hook: a certificate for exactly the names; nothing left."""
    domains = [n.format(z=acme_zone) for n in names]
    env = {**hook_env(hook_config(acme_zone)), **LEGO_PACE, "EXEC_PATH": str(hook_script(tmp_path))}
    if mode == "RAW":
        env["EXEC_MODE"] = "RAW"
    resolver = f"{bind_server.host}:{bind_server.port}"
    done = await lego(
        pebble.directory, pebble.ca_file, tmp_path / "lego", domains, "exec", env, resolver
    )
    assert done.returncode == 0, done.output[-4000:]
    assert done.names == set(domains), done.output[-2000:]
    assert leftovers(bind_server, acme_zone) == []
