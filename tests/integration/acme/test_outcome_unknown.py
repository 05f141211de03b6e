"""A Present or clean-up whose UPDATE went unanswered is sent again, against real BIND9.

named is stopped (SIGSTOP) for longer than the server's timeout while the UPDATE is in
flight, as a primary starved of CPU is (a hundred hook processes at once on a small host).
Both messages are idempotent (an add of an RR that exists, a delete of one that is gone,
change nothing), so the solver sends them again instead of failing the challenge or
leaving its value behind; once named resumes, both copies apply and the second answers.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig
from tests.dnsservers import BindServer, start_server

from .conftest import server_entry, txt_at

pytestmark = pytest.mark.timeout(120)
ZONE = "unanswered.test"
KEY = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
STOP_SECONDS = 1.5  # > the 1 s server timeout: the first UPDATE times out unanswered


@pytest.fixture
def own_bind() -> Iterator[BindServer]:
    """A BIND of this test alone: it gets stopped and resumed."""
    server = start_server("bind")
    assert isinstance(server, BindServer)
    try:
        server.add_zone(ZONE)
        yield server
    finally:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)
        server.close()


async def stopped_while(server: BindServer, work: asyncio.Task[object]) -> None:
    """Keep named stopped for STOP_SECONDS while ``work`` runs, then let it go on."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(STOP_SECONDS)
    finally:
        os.kill(server.pid, signal.SIGCONT)
    await work


@pytest.mark.parametrize("action", ["present", "cleanup"])
async def test_unanswered_update_is_sent_again(own_bind: BindServer, action: str) -> None:
    """An UPDATE that timed out while named was stopped is re-sent: the value is there/gone."""
    entry = server_entry(own_bind, [ZONE])
    entry["server"]["timeout"] = 1.0
    solver = Solver(AcmeConfig.model_validate({"servers": [entry]}))
    record = f"_acme-challenge.www.{ZONE}"
    if action == "cleanup":
        await solver.present(record, KEY)
    run = getattr(solver, action)
    await stopped_while(own_bind, asyncio.ensure_future(run(record, KEY)))
    assert await txt_at(own_bind, record) == ({KEY} if action == "present" else set())
