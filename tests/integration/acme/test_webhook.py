"""The cert-manager webhook over real HTTPS (trustme certificates) against real BIND9.

Ports cert-manager's DNS-01 conformance suite (test/acme: basic present/clean-up,
clean-up twice, strict mode) and checks what the kube-aggregator relies on:
front-proxy client-certificate authentication, discovery, /healthz, stable errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import aiohttp
import dns.query
import dns.tsig
import dns.zone
import pytest
import trustme
from prometheus_client import CollectorRegistry

from dnssync.acme.records import marker_name
from dnssync.acme.solver import Solver
from dnssync.acme.webhook import ConfigMapAuth, FileAuth
from tests.dnsservers import BindServer, TsigKey
from tests.fakekube import fake_kube

from .conftest import (
    GROUP,
    HEADERS,
    PROXY_CN,
    SOLVER,
    Certs,
    WebhookFactory,
    acme_config,
    https,
    payload,
    serial_of,
    served,
    solve_url,
    txt_at,
    write_serving,
)

pytestmark = pytest.mark.timeout(60)


def acme_key() -> str:
    """A fresh ACME-like value (43 base64url characters)."""
    return secrets.token_urlsafe(32)


async def post(
    session: aiohttp.ClientSession, url: str, body: Any, *, headers: dict[str, str] = HEADERS
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with session.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


def ok(doc: dict[str, Any]) -> bool:
    return bool(doc["response"]["success"])


def message(doc: dict[str, Any]) -> str:
    return str(doc["response"]["status"]["message"])


# --- conformance (cert-manager test/acme) -------------------------------------


async def test_present_visible_cleanup_gone(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """Basic conformance: Present makes the value visible, CleanUp makes it go."""
    record = f"_acme-challenge.www.{acme_zone}"
    key = acme_key()
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        status, doc = await post(session, solve_url(hook), payload("Present", key, record=record))
        assert status == 201
        assert ok(doc), doc
        assert key in await txt_at(bind_server, record)
        status, doc = await post(session, solve_url(hook), payload("CleanUp", key, record=record))
        assert ok(doc), doc
        assert await txt_at(bind_server, record) == set()
        assert await txt_at(bind_server, marker_name(record)) == set()


async def test_successes_are_counted_and_timed_per_action(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """Each successful Present and CleanUp counts once and is timed, per action."""
    registry = CollectorRegistry()
    record = f"_acme-challenge.metrics.{acme_zone}"
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone])), registry=registry),
        certs.client_context(certs.proxy),
    ) as (hook, session):
        for action in ("Present", "Present", "CleanUp"):
            assert ok(
                (await post(session, solve_url(hook), payload(action, acme_key(), record=record)))[
                    1
                ]
            )

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("dnssync_acme_webhook_requests_total", action="Present", result="success") == 2
    assert sample("dnssync_acme_webhook_requests_total", action="CleanUp", result="success") == 1
    assert sample("dnssync_acme_webhook_request_seconds_count", action="Present") == 2
    assert sample("dnssync_acme_webhook_request_seconds_count", action="CleanUp") == 1


async def test_cleanup_twice_succeeds(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """Conformance: CleanUp called twice (the value already gone) succeeds both times."""
    record = f"_acme-challenge.{acme_zone}"
    key = acme_key()
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        assert ok((await post(session, solve_url(hook), payload("Present", key, record=record)))[1])
        for _ in range(2):
            status, doc = await post(
                session, solve_url(hook), payload("CleanUp", key, record=record)
            )
            assert status == 201
            assert ok(doc), doc
        assert await txt_at(bind_server, record) == set()


async def test_strict_mode_two_keys_one_name(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """Strict conformance: two keys at one name both resolve; deleting one keeps the other."""
    record = f"_acme-challenge.www.{acme_zone}"
    # The suite's own keys ("123d==", "anothertestingkey") are no DNS-01
    # digests, which the solver refuses (ownership forgery): two real ones.
    key1, key2 = acme_key(), acme_key()
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        for key in (key1, key2):
            assert ok(
                (await post(session, solve_url(hook), payload("Present", key, record=record)))[1]
            )
        assert await txt_at(bind_server, record) == {key1, key2}
        assert ok(
            (await post(session, solve_url(hook), payload("CleanUp", key2, record=record)))[1]
        )
        assert await txt_at(bind_server, record) == {key1}
        assert ok(
            (await post(session, solve_url(hook), payload("CleanUp", key1, record=record)))[1]
        )
        assert await txt_at(bind_server, record) == set()


async def test_apex_and_wildcard_values_coexist(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """example.com and *.example.com share _acme-challenge.example.com: both values stay."""
    apex, wild = acme_key(), acme_key()
    record = f"_acme-challenge.{acme_zone}"
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        url = solve_url(hook)
        assert ok((await post(session, url, payload("Present", apex, dns_name=acme_zone)))[1])
        assert ok(
            (await post(session, url, payload("Present", wild, dns_name=f"*.{acme_zone}")))[1]
        )
        assert await txt_at(bind_server, record) == {apex, wild}
        assert ok((await post(session, url, payload("CleanUp", apex, dns_name=acme_zone)))[1])
        assert await txt_at(bind_server, record) == {wild}
        assert ok(
            (await post(session, url, payload("CleanUp", wild, dns_name=f"*.{acme_zone}")))[1]
        )


async def test_payload_without_api_version_and_kind_and_uid_echo(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """apiVersion/kind may be missing; the uid is echoed and the answer is a ChallengePayload."""
    record = f"_acme-challenge.bare.{acme_zone}"
    key = acme_key()
    body = payload("Present", key, record=record, uid="0f1e2d3c")
    del body["apiVersion"], body["kind"]
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        status, doc = await post(session, solve_url(hook), body)
        assert status == 201
        assert doc["apiVersion"] == "webhook.acme.cert-manager.io/v1alpha1"
        assert doc["kind"] == "ChallengePayload"
        assert doc["request"] == body["request"]
        assert doc["response"] == {"uid": "0f1e2d3c", "success": True}
        body["request"]["action"] = "CleanUp"
        assert ok((await post(session, solve_url(hook), body))[1])


# --- authentication -----------------------------------------------------------


async def test_requests_without_client_certificate_are_rejected(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """No client certificate: 401, even with forged X-Remote-User/Group headers; nothing written."""
    record = f"_acme-challenge.www.{acme_zone}"
    before = await serial_of(bind_server, acme_zone)
    forged = {"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"}
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context()
    ) as (hook, session):
        for headers in (HEADERS, forged, {}):
            status, doc = await post(
                session,
                solve_url(hook),
                payload("Present", acme_key(), record=record),
                headers=headers,
            )
            assert status == 401
            assert doc["kind"] == "Status"
            assert doc["reason"] == "Unauthorized"
        async with session.get(f"https://127.0.0.1:{hook.port}/apis", headers=forged) as resp:
            assert resp.status == 401
    assert await txt_at(bind_server, record) == set()
    assert await serial_of(bind_server, acme_zone) == before


async def test_client_certificate_from_another_ca_is_rejected(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """A certificate not signed by the front-proxy CA fails the TLS handshake; nothing written."""
    record = f"_acme-challenge.www.{acme_zone}"
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.rogue)
    ) as (hook, session):
        with pytest.raises(aiohttp.ClientError):
            await post(session, solve_url(hook), payload("Present", acme_key(), record=record))
    assert await txt_at(bind_server, record) == set()


async def test_client_certificate_with_a_cn_not_allowed_is_rejected(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """A front-proxy-CA certificate whose CN is not in the allowed names: 403, nothing written."""
    record = f"_acme-challenge.www.{acme_zone}"
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.stranger)
    ) as (hook, session):
        status, doc = await post(
            session, solve_url(hook), payload("Present", acme_key(), record=record)
        )
        assert status == 403
        assert doc["reason"] == "Forbidden"
        async with session.get(f"https://127.0.0.1:{hook.port}/apis") as resp:
            assert resp.status == 403
    assert await txt_at(bind_server, record) == set()


async def test_any_cn_when_allowed_names_is_empty(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """An empty requestheader-allowed-names accepts any CN the front-proxy CA signed."""
    record = f"_acme-challenge.any.{acme_zone}"
    key = acme_key()
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone])), allowed_names=()),
        certs.client_context(certs.stranger),
    ) as (hook, session):
        assert ok((await post(session, solve_url(hook), payload("Present", key, record=record)))[1])
        assert ok((await post(session, solve_url(hook), payload("CleanUp", key, record=record)))[1])


async def test_a_connections_certificate_is_read_once_and_judged_on_every_request(
    bind_server: BindServer,
    acme_zone: str,
    certs: Certs,
    webhook: WebhookFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client certificate is parsed once per connection; each request is still
    judged by the allowed names of the moment, and renegotiation is refused."""
    reads: list[object] = []
    getpeercert = ssl.SSLObject.getpeercert

    def counted(self: ssl.SSLObject, binary_form: bool = False) -> Any:
        if self.server_side:
            reads.append(self)
        return getpeercert(self, binary_form)

    monkeypatch.setattr(ssl.SSLObject, "getpeercert", counted)
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.stranger)
    ) as (hook, session):
        url = f"https://127.0.0.1:{hook.port}/apis"
        for _ in range(3):
            async with session.get(url) as resp:
                assert resp.status == 403
        assert len(reads) == 1  # one connection, kept
        hook.auth = FileAuth(certs.front_ca_file, ())  # any CN the CA signed, from now on
        assert not await hook.reload()  # same files: only the names changed
        async with session.get(url) as resp:
            assert resp.status == 200
        assert len(reads) == 1
        async with https(certs.client_context(certs.stranger)) as other, other.get(url) as resp:
            assert resp.status == 200
        assert len(reads) == 2  # a new connection is read anew
        assert hook._ctx is not None and hook._ctx.options & ssl.OP_NO_RENEGOTIATION


async def test_post_without_remote_user_is_rejected(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """A valid front-proxy certificate but no X-Remote-User: 401, nothing written."""
    record = f"_acme-challenge.www.{acme_zone}"
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        status, doc = await post(
            session, solve_url(hook), payload("Present", acme_key(), record=record), headers={}
        )
        assert status == 401
        assert "named no user" in doc["message"]
    assert await txt_at(bind_server, record) == set()


async def test_discovery_and_health_as_the_aggregator_expects(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """Discovery answers with a front-proxy certificate; /healthz needs none; unknowns are 404."""
    async with webhook(Solver(acme_config(bind_server, [acme_zone]))) as hook:
        base = f"https://127.0.0.1:{hook.port}"
        async with https(certs.client_context()) as anonymous:
            for path in ("/healthz", "/livez", "/readyz"):
                async with anonymous.get(base + path) as resp:
                    assert resp.status == 200
                    assert await resp.text() == "ok"
        async with https(certs.client_context(certs.proxy)) as session:
            async with session.get(f"{base}/apis/{GROUP}/v1alpha1") as resp:
                assert resp.status == 200
                doc = await resp.json()
            assert doc["kind"] == "APIResourceList"
            assert doc["groupVersion"] == f"{GROUP}/v1alpha1"
            assert doc["resources"] == [
                {
                    "name": SOLVER,
                    "singularName": SOLVER,
                    "namespaced": False,
                    "kind": "ChallengePayload",
                    "verbs": ["create"],
                }
            ]
            async with session.get(f"{base}/apis") as resp:
                assert (await resp.json())["groups"][0]["name"] == GROUP
            async with session.get(f"{base}/apis/{GROUP}") as resp:
                assert (await resp.json())["kind"] == "APIGroup"
            for path in ("/apis/other.group/v1alpha1", "/openapi/v2", "/openapi/v3", "/nothing"):
                async with session.get(base + path) as resp:
                    assert resp.status == 404, path
            status, doc = await post(
                session,
                solve_url(hook, solver="someone-else"),
                payload("Present", acme_key(), record=f"_acme-challenge.{acme_zone}"),
            )
            assert status == 404
            assert doc["kind"] == "Status"


# --- failures -------------------------------------------------------------------


async def test_malformed_payloads_fail_clearly_and_write_nothing(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """Bad or 100,000-deep JSON, unknown action, name outside the zones: clear failure, no write."""
    record = f"_acme-challenge.www.{acme_zone}"
    before = await serial_of(bind_server, acme_zone)
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        url = solve_url(hook)
        status, doc = await post(session, url, b'{"request": {"action": "Present",')
        assert status == 400
        assert doc["kind"] == "Status"
        assert doc["reason"] == "BadRequest"
        assert "not valid JSON" in doc["message"]

        status, doc = await post(session, url, b"[" * 100_000 + b"]" * 100_000)
        assert status == 400
        assert doc["reason"] == "BadRequest"
        assert "nested too deeply" in doc["message"] and "\n" not in doc["message"]

        cases = [
            (
                payload("Destroy", acme_key(), record=record, uid="u1"),
                "unknown action 'Destroy'",
            ),
            (
                payload("Present", acme_key(), record="_acme-challenge.www.elsewhere.example"),
                "outside every zone",
            ),
            (payload("Present", "", record=record), "request.key is missing or empty"),
            (
                payload("Present", acme_key(), record=record, config={"password": "x"}),
                "unknown field(s) password",
            ),
        ]
        for body, text in cases:
            status, doc = await post(session, url, body)
            assert status == 201
            assert doc["response"]["success"] is False
            assert doc["response"]["uid"] == body["request"]["uid"]
            assert text in message(doc), message(doc)
            assert doc["response"]["status"]["reason"] == "InvalidPayload"
    assert await txt_at(bind_server, record) == set()
    assert await serial_of(bind_server, acme_zone) == before


async def test_refused_key_reports_the_rcode_in_a_stable_message(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """A key BIND refuses for the zone: success false, REFUSED named, same text each time."""
    record = f"_acme-challenge.www.{acme_zone}"
    solver = Solver(acme_config(bind_server, [acme_zone], key=bind_server.other_key))
    async with webhook(solver) as hook, https(certs.client_context(certs.proxy)) as session:
        texts = set()
        for _ in range(2):
            status, doc = await post(
                session, solve_url(hook), payload("Present", acme_key(), record=record)
            )
            assert status == 201
            assert not ok(doc)
            assert doc["response"]["status"]["reason"] == "DNSRefused"
            texts.add(message(doc))
        [text] = texts
        assert "REFUSED" in text
        assert record in text
        assert bind_server.other_key.name in text
    assert await txt_at(bind_server, record) == set()


async def test_bad_secret_reports_the_tsig_error(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """A wrong TSIG secret: success false, the TSIG error (BADSIG) named in the message."""
    record = f"_acme-challenge.www.{acme_zone}"
    wrong = TsigKey(bind_server.key.name, bind_server.key.algorithm, TsigKey.generate("x").secret)
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone], key=wrong))),
        certs.client_context(certs.proxy),
    ) as (hook, session):
        _, doc = await post(session, solve_url(hook), payload("Present", acme_key(), record=record))
        assert not ok(doc)
        assert doc["response"]["status"]["reason"] == "TSIGFailure"
        assert "BADSIG" in message(doc)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(100)
    yield sock.getsockname()[1]
    sock.close()


async def test_slow_server_answers_within_the_request_timeout(
    bind_server: BindServer, certs: Certs, webhook: WebhookFactory, silent_port: int
) -> None:
    """A hung DNS server never holds cert-manager's call past request_timeout."""
    cfg = acme_config(bind_server, ["hung.test"])
    cfg = cfg.model_copy(
        update={
            "servers": (
                cfg.servers[0].model_copy(
                    update={
                        "server": cfg.servers[0].server.model_copy(update={"port": silent_port})
                    }
                ),
            )
        }
    )
    async with served(
        webhook(Solver(cfg), request_timeout=0.5), certs.client_context(certs.proxy)
    ) as (hook, session):
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, doc = await post(
            session,
            solve_url(hook),
            payload("Present", acme_key(), record="_acme-challenge.hung.test"),
        )
        assert loop.time() - started < 2.0
        assert not ok(doc)
        assert doc["response"]["status"]["reason"] == "Timeout"
        assert message(doc) == "Present took longer than 0.5 s; it will be retried"


async def test_secrets_never_appear_in_responses_or_logs(
    bind_server: BindServer,
    acme_zone: str,
    certs: Certs,
    webhook: WebhookFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """TSIG secrets (right and wrong ones) appear in no response body and no log line."""
    caplog.set_level(logging.DEBUG)
    record = f"_acme-challenge.secret.{acme_zone}"
    wrong = TsigKey(bind_server.key.name, bind_server.key.algorithm, TsigKey.generate("x").secret)
    bodies: list[str] = []
    for key in (bind_server.key, wrong, bind_server.other_key):
        async with served(
            webhook(Solver(acme_config(bind_server, [acme_zone], key=key))),
            certs.client_context(certs.proxy),
        ) as (hook, session):
            for action in ("Present", "CleanUp"):
                body = payload(action, acme_key(), record=record)
                async with session.post(solve_url(hook), json=body, headers=HEADERS) as resp:
                    bodies.append(await resp.text())
            async with session.post(solve_url(hook), data=b"{", headers=HEADERS) as resp:
                bodies.append(await resp.text())
    assert len(bodies) == 9
    seen = "\n".join(bodies) + "\n" + caplog.text
    for key in (bind_server.key, wrong, bind_server.other_key):
        assert key.secret not in seen
        assert key.secret.rstrip("=") not in seen


# --- load -------------------------------------------------------------------------


async def test_hundred_concurrent_challenges_across_ten_names(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """100 concurrent Presents over 10 names all land; 100 CleanUps leave nothing behind."""
    names = [f"_acme-challenge.host{i}.{acme_zone}" for i in range(10)]
    work = [(names[i % 10], acme_key()) for i in range(100)]
    async with served(
        webhook(Solver(acme_config(bind_server, [acme_zone]))), certs.client_context(certs.proxy)
    ) as (hook, session):
        url = solve_url(hook)
        docs = await asyncio.gather(
            *(post(session, url, payload("Present", k, record=r)) for r, k in work)
        )
        assert all(ok(doc) for _, doc in docs), [message(d) for _, d in docs if not ok(d)]
        for name in names:
            assert await txt_at(bind_server, name) == {k for r, k in work if r == name}
            assert len(await txt_at(bind_server, marker_name(name))) == 10
        docs = await asyncio.gather(
            *(post(session, url, payload("CleanUp", k, record=r)) for r, k in work)
        )
        assert all(ok(doc) for _, doc in docs)
        for name in names:
            assert await txt_at(bind_server, name) == set()
            assert await txt_at(bind_server, marker_name(name)) == set()


async def test_two_hundred_concurrent_presents_queue_behind_the_primary_cap(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """200 Presents at once (issue #10 item 8): all succeed, at most the cap in flight, and
    the CleanUps leave the zone as it was."""
    names = [f"_acme-challenge.load{i}.{acme_zone}" for i in range(100)]
    work = [(names[i % 100], acme_key()) for i in range(200)]
    solver = Solver(acme_config(bind_server, [acme_zone]))
    ((_, server),) = solver._servers.items()
    in_flight = peak = 0
    update = server.client.update

    async def counted(*args: Any, **kw: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await update(*args, **kw)
        finally:
            in_flight -= 1

    server.client.update = counted  # type: ignore[method-assign]
    before = await zone_records(bind_server, acme_zone)
    async with served(webhook(solver), certs.client_context(certs.proxy)) as (hook, session):
        url = solve_url(hook)
        docs = await asyncio.gather(
            *(post(session, url, payload("Present", k, record=r)) for r, k in work)
        )
        assert [message(d) for _, d in docs if not ok(d)] == []
        for name in names[:5]:
            assert await txt_at(bind_server, name) == {k for r, k in work if r == name}
        docs = await asyncio.gather(
            *(post(session, url, payload("CleanUp", k, record=r)) for r, k in work)
        )
        assert [message(d) for _, d in docs if not ok(d)] == []
    assert 1 < peak <= 16, peak
    assert await zone_records(bind_server, acme_zone) == before


async def zone_records(server: BindServer, zone: str) -> set[str]:
    """Every record of the zone but its SOA, as text (a signed AXFR)."""
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = await asyncio.to_thread(
        lambda: dns.zone.from_xfr(
            dns.query.xfr(server.host, zone, port=server.port, keyring={key.name: key})
        )
    )
    return {
        f"{name} {rdataset.rdtype.name} {rd}"
        for name, rdataset in xfr.iterate_rdatasets()
        if rdataset.rdtype.name != "SOA"
        for rd in rdataset
    }


# --- reloads and the ConfigMap ----------------------------------------------------------


async def test_serving_certificate_is_reloaded_when_files_change(
    bind_server: BindServer,
    acme_zone: str,
    certs: Certs,
    webhook: WebhookFactory,
    tmp_path: Any,
) -> None:
    """New serving certificate files are used for new connections without a restart."""
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    write_serving(certs.serving_ca, cert_file, key_file)
    new_ca = trustme.CA()
    solver = Solver(acme_config(bind_server, [acme_zone]))
    async with webhook(
        solver, cert_file=cert_file, key_file=key_file, reload_interval=0.05
    ) as hook:
        url = f"https://127.0.0.1:{hook.port}/healthz"
        async with https(certs.client_context()) as session, session.get(url) as resp:
            assert resp.status == 200
        write_serving(new_ca, cert_file, key_file)
        for _ in range(100):
            if hook.reloads:
                break
            await asyncio.sleep(0.05)
        assert hook.reloads == 1
        async with https(certs.client_context(trust=new_ca)) as session, session.get(url) as resp:
            assert resp.status == 200
        async with https(certs.client_context()) as session:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(url)


async def test_front_proxy_settings_from_the_configmap(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory, tmp_path: Any
) -> None:
    """CA and allowed names come from extension-apiserver-authentication; a CA rotation applies."""
    from kubernetes_asyncio import client, config

    record = f"_acme-challenge.cm.{acme_zone}"
    key = acme_key()
    data = {
        "requestheader-client-ca-file": certs.front_ca.cert_pem.bytes().decode(),
        "requestheader-allowed-names": json.dumps([PROXY_CN]),
        "requestheader-username-headers": json.dumps(["X-Remote-User"]),
        "requestheader-group-headers": json.dumps(["X-Remote-Group"]),
    }
    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
        "data": data,
    }
    async with fake_kube() as kube:
        kube.create(cm)
        cfg = client.Configuration()
        await config.load_kube_config(
            config_file=str(kube.write_kubeconfig(tmp_path)), client_configuration=cfg
        )
        async with client.ApiClient(configuration=cfg) as api:
            auth = ConfigMapAuth(api, "kube-system", "extension-apiserver-authentication")
            solver = Solver(acme_config(bind_server, [acme_zone]))
            async with served(webhook(solver, auth=auth), certs.client_context(certs.proxy)) as (
                hook,
                session,
            ):
                assert ok(
                    (await post(session, solve_url(hook), payload("Present", key, record=record)))[
                        1
                    ]
                )
                async with https(certs.client_context(certs.stranger)) as session:
                    status, _ = await post(
                        session, solve_url(hook), payload("CleanUp", key, record=record)
                    )
                    assert status == 403
                # Rotate: the rogue CA becomes the front-proxy CA.
                data["requestheader-client-ca-file"] = certs.rogue_ca.cert_pem.bytes().decode()
                kube.update(cm)
                assert await hook.reload()
                async with https(certs.client_context(certs.proxy)) as session:
                    with pytest.raises(aiohttp.ClientError):
                        await post(session, solve_url(hook), payload("CleanUp", key, record=record))
                async with https(certs.client_context(certs.rogue)) as session:
                    assert ok(
                        (
                            await post(
                                session, solve_url(hook), payload("CleanUp", key, record=record)
                            )
                        )[1]
                    )
    assert await txt_at(bind_server, record) == set()


async def test_configmap_read_outlives_5xx_and_names_a_lasting_refusal(
    certs: Certs, tmp_path: Any
) -> None:
    """5xx reading the front-proxy ConfigMap is retried; a lasting 403 names the RoleBinding."""
    from dnssync.errors import KubeRefused
    from dnssync.kube.client import api_client

    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
        "data": {"requestheader-client-ca-file": certs.front_ca.cert_pem.bytes().decode()},
    }
    async with fake_kube() as kube:
        kube.create(cm)
        kube.retry_after = "0"
        async with await api_client(kube.write_kubeconfig(tmp_path)) as api:
            auth = ConfigMapAuth(api, "kube-system", "extension-apiserver-authentication")
            kube.fail_next = [500, 503]
            front = await auth.load()
            assert "BEGIN CERTIFICATE" in front.ca_pem
            kube.fail_for(403, 60)
            auth = ConfigMapAuth(
                api, "kube-system", "extension-apiserver-authentication", grace=0.5
            )
            with pytest.raises(KubeRefused) as refused:
                await auth.load()
    text = str(refused.value)
    assert "read ConfigMap kube-system/extension-apiserver-authentication: 403" in text
    assert "extension-apiserver-authentication-reader" in text and "\n" not in text


async def test_a_webhook_port_in_use_is_one_clear_line(
    bind_server: BindServer, acme_zone: str, webhook: WebhookFactory
) -> None:
    """The webhook's port taken: a ConfigError naming host and port, not an OSError traceback."""
    from dnssync.errors import ConfigError

    solver = Solver(acme_config(bind_server, [acme_zone]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with webhook(solver, port=port):
                pass
