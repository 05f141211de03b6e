"""The ACME solver against real BIND9: zones, CNAME delegation, idempotence, errors, waiting."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest

from dnssync.acme.payload import SolverOptions
from dnssync.acme.records import marker_name, marker_value
from dnssync.acme.solver import Placement, Solver
from dnssync.config import AcmeConfig
from dnssync.errors import DNSTimeout, InvalidInput, InvalidName, ServerRefused, TSIGFailure
from tests.dnsservers import BindServer, TsigKey, ViewedBindServer

from .conftest import acme_config, serial_of, server_entry, txt_at

pytestmark = pytest.mark.timeout(60)


def value() -> str:
    return secrets.token_urlsafe(32)


async def test_present_is_idempotent_and_marked(bind_server: BindServer, acme_zone: str) -> None:
    """Presenting twice leaves one value and one marker naming our owner id; TTL 60."""
    solver = Solver(acme_config(bind_server, [acme_zone], owner_id="prod"))
    record = f"_acme-challenge.www.{acme_zone}"
    v = value()
    for _ in range(2):
        placement = await solver.present(record, v)
    assert placement == Placement("bind", acme_zone, record)
    held = await solver.held(placement)
    assert held.values == {v}
    assert held.markers == {marker_value("prod", v)}
    assert solver.written == {(record, v): placement}
    await solver.cleanup(record, v)
    assert solver.written == {}


async def test_cleanup_removes_only_its_value_and_succeeds_when_gone(
    bind_server: BindServer, acme_zone: str
) -> None:
    """Clean-up deletes exactly one value; a second clean-up of it is a success."""
    solver = Solver(acme_config(bind_server, [acme_zone]))
    record = f"_acme-challenge.{acme_zone}"
    a, b = value(), value()
    await solver.present(record, a)
    await solver.present(record, b)
    await solver.cleanup(record, a)
    await solver.cleanup(record, a)
    assert await txt_at(bind_server, record) == {b}
    await solver.cleanup(record, b)
    assert await txt_at(bind_server, record) == set()


async def test_longest_configured_zone_wins(bind_server: BindServer, acme_zone: str) -> None:
    """With a parent and a child zone configured, a name in the child goes to the child."""
    child = f"deep.{acme_zone}"
    bind_server.add_zone(child)
    solver = Solver(acme_config(bind_server, [acme_zone, child]))
    placement = await solver.present(f"_acme-challenge.www.{child}", value())
    assert placement.zone == child


async def test_zone_is_found_by_soa_queries_not_by_name(
    bind_server: BindServer, acme_zone: str
) -> None:
    """A server without configured zones is asked: the SOA walk finds the child zone."""
    child = f"deep.{acme_zone}"
    bind_server.add_zone(child)
    solver = Solver(AcmeConfig.model_validate({"servers": [server_entry(bind_server, [])]}))
    record = f"_acme-challenge.a.b.{child}"
    v = value()
    placement = await solver.present(record, v)
    assert placement == Placement("bind", child, record)
    assert await txt_at(bind_server, record) == {v}
    assert (await solver.locate(f"_acme-challenge.x.{acme_zone}")).zone == acme_zone
    with pytest.raises(InvalidName, match="outside every zone"):
        await solver.locate("_acme-challenge.www.not-served.example")


async def test_name_outside_every_zone_writes_nothing(
    bind_server: BindServer, acme_zone: str
) -> None:
    """A name in no configured zone fails before any UPDATE, naming the zones."""
    solver = Solver(acme_config(bind_server, [acme_zone]))
    before = await serial_of(bind_server, acme_zone)
    with pytest.raises(InvalidName, match=f"configured zones: {acme_zone}"):
        await solver.present(f"_acme-challenge.evil{acme_zone}", value())
    assert await serial_of(bind_server, acme_zone) == before


async def test_cname_delegation_is_followed(bind_server: BindServer, acme_zone: str) -> None:
    """_acme-challenge CNAME'd into another zone: the value and clean-up go to the target."""
    target_zone = f"delegated.{acme_zone}x"
    bind_server.add_zone(target_zone)
    bind_server.add_zone(
        f"cust.{acme_zone}", f"_acme-challenge.www 300 IN CNAME www.{target_zone}.\n"
    )
    solver = Solver(acme_config(bind_server, [f"cust.{acme_zone}", target_zone]))
    record = f"_acme-challenge.www.cust.{acme_zone}"
    v = value()
    placement = await solver.present(record, v)
    assert placement == Placement("bind", target_zone, f"www.{target_zone}")
    assert await txt_at(bind_server, f"www.{target_zone}") == {v}
    assert (await solver.resolve(record)) == placement
    await solver.cleanup(record, v)
    assert await txt_at(bind_server, f"www.{target_zone}") == set()


async def test_cname_to_a_zone_we_do_not_serve_is_an_error(
    bind_server: BindServer, acme_zone: str
) -> None:
    """A CNAME pointing outside our zones fails clearly (no resolvers configured)."""
    bind_server.add_zone(f"c.{acme_zone}", "_acme-challenge 300 IN CNAME x.elsewhere.example.\n")
    solver = Solver(acme_config(bind_server, [f"c.{acme_zone}"]))
    with pytest.raises(InvalidName, match=r"x\.elsewhere\.example .*reached through CNAMEs"):
        await solver.present(f"_acme-challenge.c.{acme_zone}", value())


async def test_refused_key_raises_with_rcode(bind_server: BindServer, acme_zone: str) -> None:
    """A key outside its update policy: ServerRefused with rcode REFUSED; nothing written."""
    solver = Solver(acme_config(bind_server, [acme_zone], key=bind_server.other_key))
    with pytest.raises(ServerRefused) as info:
        await solver.present(f"_acme-challenge.{acme_zone}", value())
    assert info.value.rcode == "REFUSED"
    assert await txt_at(bind_server, f"_acme-challenge.{acme_zone}") == set()


async def test_wrong_secret_raises_tsig_failure(bind_server: BindServer, acme_zone: str) -> None:
    """A wrong secret: TSIGFailure naming BADSIG."""
    wrong = TsigKey(bind_server.key.name, bind_server.key.algorithm, TsigKey.generate("x").secret)
    solver = Solver(acme_config(bind_server, [acme_zone], key=wrong))
    with pytest.raises(TSIGFailure) as info:
        await solver.present(f"_acme-challenge.{acme_zone}", value())
    assert info.value.tsig_error == "BADSIG"
    assert wrong.secret not in str(info.value)


async def test_markers_off_writes_only_the_value(bind_server: BindServer, acme_zone: str) -> None:
    """With acme.markers false nothing but the value is written (restricted keys)."""
    solver = Solver(acme_config(bind_server, [acme_zone], markers=False))
    record = f"_acme-challenge.{acme_zone}"
    v = value()
    await solver.present(record, v)
    assert await txt_at(bind_server, marker_name(record)) == set()
    with pytest.raises(InvalidInput):
        await solver.remove_stale(Placement("bind", acme_zone, record), [v], markers_read=[])
    await solver.cleanup(record, v)


async def test_ttl_from_options(bind_server: BindServer, acme_zone: str) -> None:
    """The issuer's config block may set the TTL and pick a server by name."""
    solver = Solver(acme_config(bind_server, [acme_zone]))
    record = f"_acme-challenge.ttl.{acme_zone}"
    await solver.present(record, value(), options=SolverOptions(server="bind", ttl=120))
    with pytest.raises(InvalidInput, match="not configured"):
        await solver.present(record, value(), options=SolverOptions(server="nope"))


@pytest.fixture
def dead_udp_port() -> Iterator[int]:
    """A UDP port nobody answers on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


async def test_wait_for_listed_nameservers(
    bind_server: BindServer, acme_zone: str, dead_udp_port: int
) -> None:
    """Waiting ends when every listed server serves the value; a silent one times out, named."""
    entry = server_entry(bind_server, [acme_zone])
    entry["nameservers"] = [f"{bind_server.host}:{bind_server.port}"]
    prop = {"wait": True, "timeout": 0.6, "interval": 0.1}
    solver = Solver(AcmeConfig.model_validate({"servers": [entry], "propagation": prop}))
    await solver.present(f"_acme-challenge.{acme_zone}", value())
    entry["nameservers"].append(f"127.0.0.1:{dead_udp_port}")
    solver = Solver(AcmeConfig.model_validate({"servers": [entry], "propagation": prop}))
    with pytest.raises(DNSTimeout, match=f"lagging 127.0.0.1:{dead_udp_port} "):
        await solver.present(f"_acme-challenge.{acme_zone}", value())
    await solver.present(f"_acme-challenge.{acme_zone}", value(), wait=False)


@pytest.mark.parametrize("public", [True, False], ids=["frozen-view", "refused"])
async def test_read_back_falls_back_to_signed_queries(
    viewed_bind: ViewedBindServer, public: bool
) -> None:
    """Where unsigned queries see a frozen copy or are refused, Present still verifies (signed)."""
    zone = f"views-{public}.test".lower()
    viewed_bind.add_zone(zone, public=public)
    solver = Solver(acme_config(viewed_bind, [zone]))
    record = f"_acme-challenge.{zone}"
    first, second = value(), value()
    placement = await solver.present(record, first)
    await solver.present(record, second)  # the server is now read signed only
    assert (await solver.held(placement)).values == {first, second}
    if public:  # what an unsigned reader sees: the copy frozen when the zone was added
        assert await txt_at(viewed_bind, record) == set()
