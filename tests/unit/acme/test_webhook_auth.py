"""Front-proxy authentication of the webhook at its edges (issue #10, item 11).

The kube-apiserver's front proxy is the only caller the webhook believes:
these tests serve a real :class:`Webhook` over HTTPS on loopback (trustme
certificates) and check each refusal, the identity headers, the settings'
sources and their reloads -- the cases ``make mutation`` found unguarded in
:mod:`dnssync.acme.webhook`.  No request here reaches DNS: each stops at the
authentication or at the payload check before the solver (the solver's
server is never contacted), and the real-BIND paths are in
``tests/integration/acme/test_webhook.py``.

Of the 264 mutants of the functions in the run below, 254 are killed; the
10 left alive are equivalent, so no test can kill them:

* ``len(part).to_bytes(8, )`` / ``to_bytes(9, "big")`` in the reload's
  fingerprint: big-endian is the default, and any fixed width keeps the
  length prefixes (hence the fingerprint) one-to-one with the three parts;
* ``data.get("requestheader-client-ca-file") or "XXXX"``: the fallback is
  only tested for ``BEGIN CERTIFICATE``, which neither text holds;
* ``(transport is not None) or True`` and ``isinstance(sslobj,
  ssl.SSLObject) or True`` in ``_authenticate``: the webhook listens only
  with TLS, so while a handler runs its transport is open and its
  ``ssl_object`` an ``SSLObject``;
* ``cn[:65]`` for ``cn[:64]``: a certificate's CN has at most 64 characters
  (RFC 5280 ub-common-name; ``cryptography`` refuses a longer one);
* ``next(..., None)`` for ``next(..., "")``, ``headers.get(h, None)`` and
  ``headers.get(h)`` reading the user: ``None`` and ``""`` are both falsy,
  so the refusal is the same, and a discovery request discards the Caller;
* ``current is not None or ...`` in ``_pick_context``: ``_ctx`` is set
  before the listener starts, so the callback never sees ``None``.

Run: ``nice -n 15 python -m tools.mutation dnssync/acme/webhook.py
tests/unit/acme/test_webhook_auth.py --workers 1 --only _authenticate --only
FileAuth --only front_proxy_from_configmap --only _json_list --only
_common_name --only _context --only _pick_context --only 'ǁreload'``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from dnssync.acme.solver import Solver
from dnssync.acme.webhook import (
    Caller,
    FileAuth,
    FrontProxy,
    Webhook,
    _common_name,
    front_proxy_from_configmap,
)
from dnssync.config import AcmeConfig
from dnssync.errors import ConfigError

GROUP = "acme.dnssync.test"
SOLVER = "dnssync"
PROXY_CN = "front-proxy-client"
USER = {"X-Remote-User": "system:serviceaccount:cert-manager:cert-manager"}


@dataclass
class Tls:
    """A serving certificate on disk, a front-proxy CA and client certificates."""

    serving_ca: trustme.CA
    front_ca: trustme.CA
    other_ca: trustme.CA
    cert_file: Path
    key_file: Path
    ca_file: Path
    proxy: trustme.LeafCert
    stranger: trustme.LeafCert
    other: trustme.LeafCert  # CN front-proxy-client from other_ca

    def client(self, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.serving_ca.configure_trust(ctx)
        if cert is not None:
            cert.configure_cert(ctx)
        return ctx


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """TLS material for this module's webhooks."""
    d = tmp_path_factory.mktemp("webhook-auth")
    serving_ca, front_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    leaf = serving_ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = d / "tls.crt", d / "tls.key", d / "front-ca.crt"
    cert_file.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    key_file.write_bytes(leaf.private_key_pem.bytes())
    ca_file.write_bytes(front_ca.cert_pem.bytes())
    return Tls(
        serving_ca,
        front_ca,
        other_ca,
        cert_file,
        key_file,
        ca_file,
        proxy=front_ca.issue_cert(PROXY_CN, common_name=PROXY_CN),
        stranger=front_ca.issue_cert("someone", common_name="someone"),
        other=other_ca.issue_cert(PROXY_CN, common_name=PROXY_CN),
    )


def _solver() -> Solver:
    # Never contacted: every request below stops before the solver.
    server = {"host": "127.0.0.1", "port": 9, "timeout": 1.0}
    entry = {"name": "unused", "server": server, "zones": ["example.test"]}
    return Solver(AcmeConfig.model_validate({"servers": [entry]}))


@dataclass
class Settings:
    """An AuthSource whose answer a test changes between reloads."""

    front: FrontProxy
    error: Exception | None = None
    loads: list[FrontProxy] = field(default_factory=list)

    async def load(self) -> FrontProxy:
        if self.error is not None:
            raise self.error
        self.loads.append(self.front)
        return self.front


def _webhook(tls: Tls, auth: Any, **kw: Any) -> Webhook:
    return Webhook(
        _solver(),
        group_name=GROUP,
        solver_name=SOLVER,
        cert_file=kw.pop("cert_file", tls.cert_file),
        key_file=tls.key_file,
        auth=auth,
        host="127.0.0.1",
        port=0,
        reload_interval=kw.pop("reload_interval", 3600),
        **kw,
    )


@pytest.fixture
async def hook(tls: Tls) -> AsyncIterator[Webhook]:
    """A webhook that allows only CN front-proxy-client, from the CA file."""
    async with _webhook(tls, FileAuth(tls.ca_file, (PROXY_CN,))) as w:
        yield w


def _session(ctx: ssl.SSLContext) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx))


def _url(w: Webhook, tail: str = f"/apis/{GROUP}/v1alpha1/{SOLVER}") -> str:
    return f"https://127.0.0.1:{w.port}{tail}"


async def _post(
    session: aiohttp.ClientSession, w: Webhook, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with session.post(_url(w), data=b"{", headers=headers) as resp:
        return resp.status, await resp.json()


def _callers(w: Webhook, monkeypatch: pytest.MonkeyPatch) -> list[Caller]:
    """The callers that got past the authentication (the solver side stubbed out)."""
    seen: list[Caller] = []

    async def post(_r: web.Request, _g: str, _v: str, _s: str, caller: Caller) -> web.Response:
        seen.append(caller)
        return web.json_response({}, status=201)

    monkeypatch.setattr(w, "_post", post)
    return seen


# --- the refusals ------------------------------------------------------------


async def test_no_client_certificate_is_401_with_its_reason(hook: Webhook, tls: Tls) -> None:
    """No client certificate: 401 Unauthorized naming the missing certificate, for POST and GET."""
    async with _session(tls.client()) as s:
        status, doc = await _post(s, hook, USER)
        assert (status, doc["reason"]) == (401, "Unauthorized")
        assert doc["message"] == "a front-proxy client certificate is required"
        for tail in ("/apis", "/openapi/v2", "/api"):
            async with s.get(_url(hook, tail)) as resp:
                assert resp.status == 401, tail


async def test_a_cn_not_allowed_is_403_naming_it(hook: Webhook, tls: Tls) -> None:
    """A front-proxy-CA certificate with another CN: 403 Forbidden whose message names the CN."""
    async with _session(tls.client(tls.stranger)) as s:
        status, doc = await _post(s, hook, USER)
    assert (status, doc["reason"], doc["code"]) == (403, "Forbidden", 403)
    assert doc["message"] == "client certificate CN 'someone' is not an allowed front proxy"


async def test_an_allowed_cn_without_a_user_is_401(hook: Webhook, tls: Tls) -> None:
    """The allowed CN but no X-Remote-User (or an empty one): 401, the front proxy named no user."""
    async with _session(tls.client(tls.proxy)) as s:
        for headers in ({}, {"X-Remote-User": ""}):
            status, doc = await _post(s, hook, headers)
            assert (status, doc["reason"]) == (401, "Unauthorized")
            assert doc["message"] == "the front proxy named no user"
        async with s.get(_url(hook, "/apis")) as resp:
            assert resp.status == 200  # discovery needs no user


async def test_the_allowed_cn_with_a_user_reaches_the_payload_check(
    hook: Webhook, tls: Tls
) -> None:
    """The allowed CN and a user pass: the request fails only at its body (400), not at auth."""
    async with _session(tls.client(tls.proxy)) as s:
        status, doc = await _post(s, hook, USER)
    assert (status, doc["reason"]) == (400, "BadRequest")


async def test_a_certificate_from_another_ca_fails_the_handshake(hook: Webhook, tls: Tls) -> None:
    """A client certificate not from the front-proxy CA is refused during the TLS handshake."""
    async with _session(tls.client(tls.other)) as s:
        with pytest.raises(aiohttp.ClientError):
            await _post(s, hook, USER)


# --- who the caller is -------------------------------------------------------


async def test_identity_comes_from_the_configured_headers_in_order(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first non-empty user header wins; groups are every value of every group header."""
    front = FrontProxy(
        tls.front_ca.cert_pem.bytes().decode(),
        frozenset(),
        ("X-User-A", "X-User-B"),
        ("X-Group-A", "X-Group-B"),
    )
    async with _webhook(tls, Settings(front)) as w, _session(tls.client(tls.stranger)) as s:
        seen = _callers(w, monkeypatch)
        headers = [
            ("X-User-A", ""),
            ("X-User-B", "bob"),
            ("X-Remote-User", "mallory"),
            ("X-Group-A", "g1"),
            ("X-Group-A", "g2"),
            ("X-Group-B", "g3"),
            ("X-Remote-Group", "system:masters"),
        ]
        async with s.post(_url(w), data=b"{}", headers=headers) as resp:
            assert resp.status == 201
        async with s.post(_url(w), data=b"{}", headers={"X-User-A": "alice"}) as resp:
            assert resp.status == 201
        async with s.post(_url(w), data=b"{}", headers={"X-Remote-User": "mallory"}) as resp:
            assert resp.status == 401
    assert seen == [Caller("someone", "bob", ("g1", "g2", "g3")), Caller("someone", "alice", ())]


async def test_an_empty_allowed_list_takes_any_cn_of_the_ca(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No allowed names: any CN the front-proxy CA signed is believed, and named in the Caller."""
    async with _webhook(tls, FileAuth(tls.ca_file)) as w, _session(tls.client(tls.stranger)) as s:
        seen = _callers(w, monkeypatch)
        async with s.post(_url(w), data=b"{}", headers=USER) as resp:
            assert resp.status == 201
    assert seen == [Caller("someone", USER["X-Remote-User"], ())]


def test_common_name_is_read_from_any_rdn_of_the_subject() -> None:
    """The CN is found past other RDNs and attributes; a subject without one gives ''."""
    cert = {
        "subject": (
            (("countryName", "XX"),),
            (("organizationName", "o"), ("commonName", "front")),
            (("commonName", "second"),),
        )
    }
    assert _common_name(cert) == "front"
    assert _common_name({"subject": ((("organizationName", "o"),),)}) == ""
    assert _common_name({}) == ""


# --- the settings and their reloads ---------------------------------------------


async def test_file_auth_reads_the_ca_and_the_allowed_names(tls: Tls) -> None:
    """FileAuth gives the file's PEM, the allowed names as a set, and the default headers."""
    front = await FileAuth(tls.ca_file, ("a", "b", "a")).load()
    assert front == FrontProxy(tls.ca_file.read_text(), frozenset({"a", "b"}))
    assert front.user_headers == ("X-Remote-User",)
    assert front.group_headers == ("X-Remote-Group",)


async def test_file_auth_refuses_a_missing_file_and_one_without_pem(tmp_path: Path) -> None:
    """A missing CA file names the path and the OS's reason; a file with no PEM says so."""
    missing = tmp_path / "nope.crt"
    with pytest.raises(ConfigError) as e:
        await FileAuth(missing).load()
    assert str(e.value) == f"cannot read the front-proxy CA {missing}: No such file or directory"
    junk = tmp_path / "junk.crt"
    junk.write_text("-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError) as e:
        await FileAuth(junk).load()
    assert str(e.value) == f"{junk} holds no PEM certificate"


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_configmap_settings_and_their_defaults() -> None:
    """The ConfigMap's CA, allowed names and headers are used; absent or empty headers default."""
    full = {
        "requestheader-client-ca-file": PEM,
        "requestheader-allowed-names": '["front-proxy-client", "aggregator"]',
        "requestheader-username-headers": '["X-U1", "X-U2"]',
        "requestheader-group-headers": '["X-G"]',
    }
    assert front_proxy_from_configmap(full) == FrontProxy(
        PEM, frozenset({"front-proxy-client", "aggregator"}), ("X-U1", "X-U2"), ("X-G",)
    )
    defaults = FrontProxy(PEM, frozenset(), ("X-Remote-User",), ("X-Remote-Group",))
    assert front_proxy_from_configmap({"requestheader-client-ca-file": PEM}) == defaults
    empty = dict.fromkeys(full, "") | {"requestheader-client-ca-file": PEM}
    assert front_proxy_from_configmap(empty) == defaults
    lists = dict.fromkeys(full, "[]") | {"requestheader-client-ca-file": PEM}
    assert front_proxy_from_configmap(lists) == defaults


@pytest.mark.parametrize("ca", [None, "", "not a certificate"])
def test_configmap_without_a_ca_asks_for_the_aggregation_layer(ca: str | None) -> None:
    """No requestheader-client-ca-file PEM: one error asking whether the front proxy is enabled."""
    data = {} if ca is None else {"requestheader-client-ca-file": ca}
    with pytest.raises(ConfigError) as e:
        front_proxy_from_configmap(data)
    assert str(e.value) == (
        "extension-apiserver-authentication has no requestheader-client-ca-file: "
        "is the apiserver's front proxy (aggregation layer) enabled?"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[not json", "is not JSON"),
        ('"X-Remote-User"', "is not a list of strings"),
        ('{"a": 1}', "is not a list of strings"),
        ('["X-Remote-User", 7]', "is not a list of strings"),
        ("[null]", "is not a list of strings"),
    ],
)
@pytest.mark.parametrize(
    "key",
    [
        "requestheader-allowed-names",
        "requestheader-username-headers",
        "requestheader-group-headers",
    ],
)
def test_configmap_lists_must_be_json_lists_of_strings(key: str, text: str, why: str) -> None:
    """A ConfigMap list that is not JSON, or not a list of strings, is refused naming its key."""
    with pytest.raises(ConfigError) as e:
        front_proxy_from_configmap({"requestheader-client-ca-file": PEM, key: text})
    assert str(e.value) == f"extension-apiserver-authentication: {key} {why}"


async def test_allowed_names_change_alone_on_reload(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same files, new allowed names: reload reports no change, but the new names apply at once."""
    pem = tls.front_ca.cert_pem.bytes().decode()
    settings = Settings(FrontProxy(pem, frozenset({PROXY_CN})))
    async with _webhook(tls, settings) as w, _session(tls.client(tls.stranger)) as s:
        assert (await _post(s, w, USER))[0] == 403
        settings.front = FrontProxy(pem, frozenset({"someone"}))
        assert await w.reload() is False
        assert (await _post(s, w, USER))[0] == 400
        assert w.reloads == 0


async def test_a_new_ca_applies_to_new_connections_and_ends_old_ones(
    tls: Tls, caplog: pytest.LogCaptureFixture
) -> None:
    """A rotated front-proxy CA: an open connection is told to reconnect, a new one uses the CA."""
    pem = tls.front_ca.cert_pem.bytes().decode()
    settings = Settings(FrontProxy(pem))
    async with _webhook(tls, settings) as w, _session(tls.client(tls.proxy)) as old:
        assert (await _post(old, w, USER))[0] == 400  # the connection stays open (keep-alive)
        settings.front = FrontProxy(tls.other_ca.cert_pem.bytes().decode())
        with caplog.at_level(logging.INFO, logger="dnssync.acme.webhook"):
            assert await w.reload() is True
        assert [r.getMessage() for r in caplog.records if r.name == "dnssync.acme.webhook"] == [
            "webhook: serving certificate / front-proxy CA reloaded"
        ]
        assert w.reloads == 1
        status, doc = await _post(old, w, USER)
        assert (status, doc["reason"]) == (401, "Unauthorized")
        assert doc["message"] == "the front-proxy CA changed; reconnect"
        async with _session(tls.client(tls.other)) as new:
            assert (await _post(new, w, USER))[0] == 400
        async with _session(tls.client(tls.proxy)) as new:
            with pytest.raises(aiohttp.ClientError):
                await _post(new, w, USER)
        settings.front = FrontProxy(pem)  # and back: a second reload
        assert await w.reload() is True
        assert w.reloads == 2


async def test_a_failed_reload_keeps_the_previous_settings(
    tls: Tls, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload whose source fails, or whose CA is unusable, changes nothing and logs why."""
    pem = tls.front_ca.cert_pem.bytes().decode()
    settings = Settings(FrontProxy(pem, frozenset({PROXY_CN})))
    async with _webhook(tls, settings) as w, _session(tls.client(tls.proxy)) as s:
        with caplog.at_level(logging.WARNING, logger="dnssync.acme.webhook"):
            settings.error = ConfigError("the source is gone")
            assert await w.reload() is False
            settings.error = None
            settings.front = FrontProxy(PEM)  # looks like PEM, is no certificate
            assert await w.reload() is False
        gone, unusable = (r.getMessage() for r in caplog.records)
        assert gone == "webhook reload: the source is gone; keeping the previous settings"
        assert unusable.startswith("webhook reload: unusable certificate or CA (")
        assert unusable.endswith("); keeping the old")
        assert "(None)" not in unusable and "(%s)" not in unusable  # the SSL error is named
        assert w.reloads == 0
        assert (await _post(s, w, USER))[0] == 400


async def test_unreadable_files_fail_the_start_and_not_a_later_reload(
    tls: Tls, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At start a missing certificate or unusable CA is a ConfigError; later only a warning."""
    missing = tmp_path / "gone.crt"
    with pytest.raises(ConfigError, match="cannot read the serving certificate"):
        await _webhook(tls, FileAuth(tls.ca_file), cert_file=missing).start()
    with pytest.raises(ConfigError, match="cannot use the serving certificate / front-proxy CA"):
        await _webhook(tls, Settings(FrontProxy(PEM))).start()
    with pytest.raises(ConfigError, match="the source is gone"):
        await _webhook(tls, Settings(FrontProxy(PEM), ConfigError("the source is gone"))).start()
    cert_file = tmp_path / "tls.crt"
    cert_file.write_bytes(tls.cert_file.read_bytes())
    async with _webhook(tls, FileAuth(tls.ca_file), cert_file=cert_file) as w:
        cert_file.unlink()
        with caplog.at_level(logging.WARNING, logger="dnssync.acme.webhook"):
            assert await w.reload() is False
        assert [r.getMessage() for r in caplog.records] == [
            "webhook reload: cannot read the serving certificate: No such file or directory"
        ]


async def test_the_reload_loop_picks_up_a_new_ca(tls: Tls) -> None:
    """The periodic reload applies a rotated CA without a call to reload()."""
    settings = Settings(FrontProxy(tls.front_ca.cert_pem.bytes().decode()))
    async with _webhook(tls, settings, reload_interval=0.01) as w:
        settings.front = FrontProxy(tls.other_ca.cert_pem.bytes().decode())
        for _ in range(200):
            if w.reloads:
                break
            await asyncio.sleep(0.01)
        assert w.reloads == 1
        async with _session(tls.client(tls.other)) as s:
            assert (await _post(s, w, USER))[0] == 400
