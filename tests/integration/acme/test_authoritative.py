"""acme.verify: authoritative -- Present succeeds only once every authoritative server serves it.

A BIND primary (`bind_server`) and a BIND secondary (`bind_secondary`) fed by NOTIFY and
IXFR; the primary's ``nameservers`` list both, as a site lists its NS set. A secondary
that is stopped or that nobody notifies is the laggard the error must name.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator

import pytest

from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig
from dnssync.errors import DNSTimeout
from tests.dnsservers import BindSecondary, BindServer

from .conftest import server_entry, txt_at

pytestmark = pytest.mark.timeout(60)
_numbers = itertools.count(1)


def value() -> str:
    return secrets.token_urlsafe(32)


def solver_for(primary: BindServer, secondary: BindSecondary, zone: str) -> Solver:
    entry = server_entry(primary, [zone])
    entry["nameservers"] = [f"{s.host}:{s.port}" for s in (primary, secondary)]
    prop = {"timeout": 2.0, "interval": 0.05}
    return Solver(AcmeConfig.model_validate({"servers": [entry], "propagation": prop}))


@pytest.fixture
def replicated(bind_server: BindServer, bind_secondary: BindSecondary) -> Iterator[str]:
    """A fresh zone on the primary with a NOTIFY-fed copy on the secondary."""
    zone = f"repl{next(_numbers)}.test"
    bind_secondary.add_secondary_zone(zone, bind_server)
    yield zone
    if not bind_secondary.running:
        bind_secondary.start()


async def test_present_returns_once_the_secondary_serves_it(
    bind_server: BindServer, bind_secondary: BindSecondary, replicated: str
) -> None:
    """Present waits for the secondary's IXFR; both servers serve the value when it returns."""
    solver = solver_for(bind_server, bind_secondary, replicated)
    record, v = f"_acme-challenge.{replicated}", value()
    await solver.present(record, v)
    assert v in await txt_at(bind_server, record)
    assert v in await txt_at(bind_secondary, record)


async def test_stopped_secondary_is_named(
    bind_server: BindServer, bind_secondary: BindSecondary, replicated: str
) -> None:
    """A secondary that answers nothing fails Present at the deadline, named with its address."""
    solver = solver_for(bind_server, bind_secondary, replicated)
    bind_secondary.stop()
    with pytest.raises(DNSTimeout) as caught:
        await solver.present(f"_acme-challenge.{replicated}", value())
    text = str(caught.value)
    assert f"lagging {bind_secondary.host}:{bind_secondary.port} (" in text
    assert f"{bind_server.port} (" not in text  # the primary is not a laggard
    assert "within 2 s" in text


async def test_secondary_without_notify_is_named(
    bind_server: BindServer, bind_secondary: BindSecondary
) -> None:
    """A secondary that answers from a stale copy is named with 'answers without the value'."""
    zone = f"stale{next(_numbers)}.test"
    bind_secondary.add_secondary_zone(zone, bind_server, notify=False)
    solver = solver_for(bind_server, bind_secondary, zone)
    with pytest.raises(
        DNSTimeout,
        match=rf"lagging 127\.0\.0\.1:{bind_secondary.port} \(answers without the value\)",
    ):
        await solver.present(f"_acme-challenge.{zone}", value())
