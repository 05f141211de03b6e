"""certbot (PyPI) gets real certificates from Pebble with ``dnssync acme present|cleanup`` hooks.

certbot's manual authenticator runs the auth hook once per name with CERTBOT_DOMAIN and
CERTBOT_VALIDATION, then asks Pebble to validate; Pebble queries the session's BIND for
the TXT value. After each issuance the zone must hold no value and no marker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dnsservers import BindServer

from .clients import certbot, certbot_manual
from .conftest import Pebble, hook_command, hook_env, leftovers

pytestmark = pytest.mark.timeout(300)


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
