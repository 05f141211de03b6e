"""lego (Go module proxy) gets real certificates from Pebble with dnssync as its ``exec`` provider.

lego runs ``$EXEC_PATH present|cleanup <fqdn> <value>`` in its default mode and
``present|cleanup -- <domain> <token> <keyAuth>`` with ``EXEC_MODE=RAW``; both are
dnssync's hook. After each issuance the zone holds no value and no marker.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dnsservers import BindSecondary, BindServer

from .clients import Pebble, hook_env, hook_script, leftovers, lego

pytestmark = pytest.mark.timeout(300)
_numbers = itertools.count(1)
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


async def test_lego_stops_on_a_lagging_secondary_and_cleans_up(
    pebble: Pebble,
    bind_server: BindServer,
    bind_secondary: BindSecondary,
    hook_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A stopped secondary fails dnssync's present: lego stops, names it, cleans up."""
    zone = f"legolag{next(_numbers)}.test"
    bind_secondary.add_secondary_zone(zone, bind_server)
    nameservers = [f"{s.host}:{s.port}" for s in (bind_server, bind_secondary)]
    config = hook_config(zone, propagation={"timeout": 2}, servers_nameservers=nameservers)
    env = {**hook_env(config), **LEGO_PACE, "EXEC_PATH": str(hook_script(tmp_path))}
    resolver = f"{bind_server.host}:{bind_server.port}"
    bind_secondary.stop()
    try:
        done = await lego(
            pebble.directory,
            pebble.ca_file,
            tmp_path / "lego",
            [f"x.{zone}"],
            "exec",
            env,
            resolver,
        )
    finally:
        bind_secondary.start()
    assert done.returncode != 0 and not done.names
    assert f"lagging {bind_secondary.host}:{bind_secondary.port} (" in done.output, done.output[
        -3000:
    ]
    assert leftovers(bind_server, zone) == []
