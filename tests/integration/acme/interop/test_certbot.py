"""certbot (PyPI) gets real certificates from Pebble with ``dnssync acme present|cleanup`` hooks.

certbot's manual authenticator runs the auth hook once per name with CERTBOT_DOMAIN and
CERTBOT_VALIDATION, then asks Pebble to validate; Pebble queries the session's BIND for
the TXT value. After each issuance the zone must hold no value and no marker.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dnsservers import BindSecondary, BindServer

from .clients import Pebble, certbot, certbot_manual, hook_command, hook_env, leftovers

pytestmark = pytest.mark.timeout(300)
_numbers = itertools.count(1)


async def issue(pebble: Pebble, config: Path, state: Path, domains: list[str]) -> None:
    hooks = certbot_manual(hook_command("present"), hook_command("cleanup"))
    done = await certbot(pebble.directory, pebble.ca_file, state, domains, hooks, hook_env(config))
    assert done.returncode == 0, done.output[-4000:]
    assert done.names == set(domains), done.output[-2000:]


@pytest.mark.parametrize(
    "names",
    [["x.{z}"], ["{z}", "*.{z}"], [f"n{i}.{{z}}" for i in range(5)]],
    ids=["single", "apex+wildcard", "five-names"],
)
async def test_certbot_issues_through_dnssync_hooks(
    names: list[str],
    pebble: Pebble,
    bind_server: BindServer,
    acme_zone: str,
    hook_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """certbot --manual + dnssync hooks: a certificate for exactly the names asked; nothing left."""
    domains = [n.format(z=acme_zone) for n in names]
    await issue(pebble, hook_config(acme_zone), tmp_path / "certbot", domains)
    assert leftovers(bind_server, acme_zone) == []


BURST = 10


@pytest.mark.timeout(900)
async def test_certbot_burst_all_issue_and_leave_nothing(
    pebble: Pebble,
    bind_server: BindServer,
    acme_zone: str,
    hook_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """10 certbot processes ordering at once through dnssync's hooks all get their certificate."""
    hooks = certbot_manual(hook_command("present"), hook_command("cleanup"))
    env = hook_env(hook_config(acme_zone))
    domains = [f"b{i}.{acme_zone}" for i in range(BURST)]
    runs = await asyncio.gather(
        *(
            certbot(pebble.directory, pebble.ca_file, tmp_path / f"cb{i}", [d], hooks, env, 600)
            for i, d in enumerate(domains)
        )
    )
    failed = [(d, r.output[-2000:]) for d, r in zip(domains, runs, strict=True) if r.names != {d}]
    assert failed == [], failed[0]
    assert leftovers(bind_server, acme_zone) == []


async def test_certbot_hook_names_a_lagging_secondary(
    pebble: Pebble,
    bind_server: BindServer,
    bind_secondary: BindSecondary,
    hook_config: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """A stopped secondary fails the auth hook, named in certbot's output; nothing is left.

    certbot only warns about a failing auth hook and asks the CA anyway; Pebble asks the
    primary, so the order still succeeds here (a real CA may ask the lagging server).
    """
    zone = f"lag{next(_numbers)}.test"
    bind_secondary.add_secondary_zone(zone, bind_server)
    nameservers = [f"{s.host}:{s.port}" for s in (bind_server, bind_secondary)]
    config = hook_config(zone, propagation={"timeout": 2}, servers_nameservers=nameservers)
    bind_secondary.stop()
    try:
        hooks = certbot_manual(hook_command("present"), hook_command("cleanup"))
        env = hook_env(config)
        done = await certbot(
            pebble.directory, pebble.ca_file, tmp_path / "cb", [f"x.{zone}"], hooks, env
        )
    finally:
        bind_secondary.start()
    log = (tmp_path / "cb" / "logs" / "letsencrypt.log").read_text()
    assert f"Hook '--manual-auth-hook' for x.{zone} reported error code 1" in log
    assert f"lagging {bind_secondary.host}:{bind_secondary.port} (" in log
    assert done.returncode == 0, done.output[-3000:]
    assert leftovers(bind_server, zone) == []
