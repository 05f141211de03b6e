"""Lifecycle across processes: CleanUp after a restart, and a Challenge deleted mid-flight.

- CleanUp needs no memory of the Present: a webhook started afresh removes exactly the
  value it is given (and its marker), leaving another client's value and dnssync's value
  for another Challenge at the same name.
- A Challenge deleted after cert-manager's Present but before any CleanUp (a deleted
  Certificate, a crashed controller) leaves a value only its marker ties to dnssync: the
  watcher, started after the Challenge existed (as after a restart) and seeing it gone
  through the real informer on the fake API, removes it and leaves the foreign value.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from dnssync.acme.challenges import ChallengeWatcher
from dnssync.acme.records import marker_name, marker_value
from dnssync.acme.solver import Solver
from tests.dnsservers import BindServer
from tests.fakekube import FakeKube

from .conftest import Certs, WebhookFactory, acme_config, payload, served, solve_url, txt_at
from .test_challenges import CHALLENGE_API, challenge, eventually, foreign_write, kube, value
from .test_webhook import ok, post

pytestmark = pytest.mark.timeout(60)
__all__ = ["kube"]  # the fixture, imported for the tests below


async def test_cleanup_after_restart_removes_exactly_its_value(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """A fresh webhook's CleanUp removes its one value and marker; the others stay."""
    record = f"_acme-challenge.{acme_zone}"
    mine, other_challenge, foreign = value(), value(), value()
    ctx = certs.client_context(certs.proxy)
    async with served(webhook(Solver(acme_config(bind_server, [acme_zone]))), ctx) as (hook, s):
        for key in (mine, other_challenge):
            status, doc = await post(s, solve_url(hook), payload("Present", key, record=record))
            assert status in (200, 201) and ok(doc), doc
    await foreign_write(bind_server, acme_zone, record, foreign)
    async with served(webhook(Solver(acme_config(bind_server, [acme_zone]))), ctx) as (hook, s):
        status, doc = await post(s, solve_url(hook), payload("CleanUp", mine, record=record))
        assert status in (200, 201) and ok(doc), doc
    assert await txt_at(bind_server, record) == {other_challenge, foreign}
    assert await txt_at(bind_server, marker_name(record)) == {
        marker_value("default", other_challenge)
    }


async def test_challenge_deleted_mid_flight_is_cleaned_by_the_watcher(
    bind_server: BindServer, acme_zone: str, kube: tuple[FakeKube, object]
) -> None:
    """Presented by the webhook, then its Challenge deleted without CleanUp: the watcher cleans."""
    fake, api = kube
    record = f"_acme-challenge.mid.{acme_zone}"
    key, foreign = value(), value()
    solver = Solver(acme_config(bind_server, [acme_zone]))
    fake.create(challenge("mid", f"mid.{acme_zone}", key))
    await Solver(acme_config(bind_server, [acme_zone])).present(record, key)  # the webhook's
    await foreign_write(bind_server, acme_zone, record, foreign)
    w = ChallengeWatcher(
        solver,
        api,
        group_name="acme.dnssync.test",
        solver_name="dnssync",
        present_early=False,
        grace=0.0,
        resync=0.2,
        debounce=0.01,
        watch_timeout=5,
    )
    task = asyncio.create_task(w.run())
    try:
        await asyncio.wait_for(w.synced.wait(), 5)
        assert key in await txt_at(bind_server, record)  # live Challenge: kept
        assert [c.ref for c in w.pending()] == ["default/mid"]  # seen by the first list
        fake.delete(CHALLENGE_API, "Challenge", "mid", "default")

        async def cleaned() -> bool:
            return await txt_at(bind_server, record) == {foreign}

        await eventually(cleaned)
        assert await txt_at(bind_server, marker_name(record)) == set()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
