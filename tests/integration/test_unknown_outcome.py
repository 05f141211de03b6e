"""An UPDATE whose answer never came, against real BIND9 (issue #10, item 7).

named is stopped (SIGSTOP) longer than the client's timeout in the middle of a
sync: the UPDATE in flight times out, its outcome unknown.  When named resumes
it works through its queue, and that message may land after dnssync re-read
the zone.  Its changes are then already in place: they count as applied, are
not re-sent one by one, and are never reported as conflicts.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from dnssync.config import KeyConfig, ServerConfig, TargetConfig
from dnssync.controller import Target
from dnssync.dns import updates
from dnssync.dns.zones import ZoneReader
from dnssync.model import Endpoint, ObjectRef, Policy, ZoneSnapshot
from dnssync.plan import plan
from tests.dnsservers import BindServer, start_server

pytestmark = pytest.mark.timeout(240)
ZONE = "stopped.test"
RECORDS = 3000
STOP_SECONDS = 4.0  # > the 1 s client timeout: the UPDATE in flight times out


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


def target_config(server: BindServer) -> TargetConfig:
    return TargetConfig(
        name="stopped",
        server=ServerConfig(host=server.host, port=server.port, timeout=1.0),
        zones=(ZONE,),
        key=KeyConfig(
            name=server.key.name,
            algorithm=server.key.algorithm,
            secret=SecretStr(server.key.secret),
        ),
        policy=Policy.SYNC,
        owner_id="stop-test",
        txt_prefix="extdns-",
        max_change_ratio=None,
    )


def endpoints(n: int) -> list[Endpoint]:
    return [
        Endpoint(
            f"h{i}.{ZONE}",
            "A",
            (f"10.1.{i // 256}.{i % 256}",),
            ObjectRef("service", "default", f"h{i}"),
            300,
        )
        for i in range(n)
    ]


async def test_update_landing_after_the_reread_is_applied_not_a_conflict(
    own_bind: BindServer,
) -> None:
    """SIGSTOP named past the timeout mid-sync: 0 conflicts, success, few extra messages."""
    target = Target(target_config(own_bind))
    eps = endpoints(RECORDS)
    loop = asyncio.get_running_loop()
    pid = own_bind.pid
    assert pid is not None
    stopped = False

    def after_batch(_: int) -> None:
        nonlocal stopped
        if not stopped:  # after the first message: the next one meets a stopped server
            stopped = True
            os.kill(pid, signal.SIGSTOP)
            loop.call_later(STOP_SECONDS, os.kill, pid, signal.SIGCONT)

    result = await target.reconcile(eps, apply=True, progress=after_batch)
    assert stopped
    (zr,) = result.zones
    assert zr.error is None, zr.error
    assert zr.applied is not None
    assert zr.applied.rejected == [], [str(r) for r in zr.applied.rejected[:5]]
    assert result.ok
    assert len(zr.applied.applied) == RECORDS
    assert zr.applied.settled > 0, "the message that timed out landed, and was counted"
    empty = ZoneSnapshot(ZONE, 1, {}, frozenset({ZONE}))
    minimum = len(updates.batches(plan(eps, empty, target.registry).changes, ZONE))
    # The message that timed out, and the one that met its late landing.
    assert zr.applied.messages <= minimum + 2, (zr.applied.messages, minimum)
    snap = (await ZoneReader(target.client, ZONE).read()).snapshot
    assert sum(1 for k in snap.rrsets if k.type == "A") == RECORDS + 1  # + ns1
    again = await target.reconcile(eps, apply=False)
    assert again.zones[0].plan is not None and again.zones[0].plan.changes == ()
