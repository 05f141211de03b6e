"""`dnssync check`'s scope report: which of apex / `*.zone` / a deeper name a key may write.

Against the four servers with the harness's grants (the whole zone), and against the
Technitium stand-in with the policy rows users get wrong (`*.zone` without the apex row,
the apex row alone).  The probe never changes a zone: its serial stays.
"""

from __future__ import annotations

import dns.tsig

from dnssync.dns.client import Client, Timeouts
from dnssync.dns.scopes import summary, write_scopes
from tests.dnsservers import DNSServer, TechnitiumServer, TsigKey, ZoneUnderTest
from tests.integration.test_dnsservers import serial


def _client(server: DNSServer, key: TsigKey) -> Client:
    return Client(
        server.host,
        server.port,
        key=dns.tsig.Key(key.name, key.secret, key.algorithm),
        timeouts=Timeouts(query=3.0, attempts=1),
    )


async def test_whole_zone_grant_allows_every_scope_and_changes_nothing(
    zone: ZoneUnderTest,
) -> None:
    """The harness key may write everywhere in its zone; the probe leaves the serial alone."""
    before = serial(zone.server, zone.name)
    scopes = await write_scopes(_client(zone.server, zone.server.key), zone.name)
    assert [(s.scope, s.allowed) for s in scopes] == [
        ("apex", True),
        ("*.zone", True),
        ("deeper", True),
    ], [s.detail for s in scopes]
    assert serial(zone.server, zone.name) == before


async def test_key_of_another_zone_may_write_nothing(zone: ZoneUnderTest) -> None:
    """other_key is granted other.test only: every scope is refused, with the server's words."""
    scopes = await write_scopes(_client(zone.server, zone.server.other_key), zone.name)
    assert not any(s.allowed for s in scopes)
    assert all(s.detail for s in scopes)


async def test_technitium_wildcard_row_without_the_apex(
    technitium_server: TechnitiumServer,
) -> None:
    """Rows `*.zone` only: may write `*.zone` and deeper, not the apex (said in one line)."""
    name = "scopes-wild.tech.test"
    technitium_server.add_zone(name)
    key = technitium_server.key
    technitium_server.set_zone_options(
        name, updateSecurityPolicies=[[key.name, f"*.{name}", ["ANY"]]]
    )
    scopes = await write_scopes(_client(technitium_server, key), name)
    assert [(s.scope, s.allowed) for s in scopes] == [
        ("apex", False),
        ("*.zone", True),
        ("deeper", True),
    ]
    assert "REFUSED" in scopes[0].detail
    assert summary(scopes) == "may write *.zone, deeper; not the apex"


async def test_technitium_apex_row_alone(technitium_server: TechnitiumServer) -> None:
    """Row `zone` only (issues #755, #1658): the apex and nothing below it."""
    name = "scopes-apex.tech.test"
    technitium_server.add_zone(name)
    key = technitium_server.key
    technitium_server.set_zone_options(name, updateSecurityPolicies=[[key.name, name, ["ANY"]]])
    scopes = await write_scopes(_client(technitium_server, key), name)
    assert summary(scopes) == "may write apex; not *.zone, deeper"
