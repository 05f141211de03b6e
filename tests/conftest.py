"""Shared pytest fixtures. The DNS server fixtures run real daemons (see tests/dnsservers.py).

- `bind_server`, `knot_server`, `pdns_server`, `technitium_server`: one server each per
  session, started the first time a test asks for it, closed at session end.
- `technitium_server`: the Technitium 15 stand-in (tests/technitium.py).
- `dns_server`: the same servers, parametrized over bind/knot/pdns/technitium.
- `zone`: a fresh zone `z<N>.test` on `dns_server` (a `ZoneUnderTest`); `zone_name` is
  its name.
- `skewed_bind`: a BIND whose clock runs two hours ahead, serving "skew.test".
- `viewed_bind`: a BIND split into two views by TSIG key (signed requests see the live
  zones; unsigned ones see frozen copies, or nothing).
- `control_plane`: a real etcd + kube-apiserver (RBAC on, config/deploy's RBAC applied),
  started once per session the first time a test asks for it (see tests/realkube.py).
- `_session_state_home` (autouse): ``XDG_STATE_HOME`` points into the session's temporary
  directory, so the CLI's zone snapshots and manifest cache stay inside the session.
- `bind_secondary`: a second BIND that serves secondary copies of `bind_server`'s zones
  (`add_secondary_zone`), fed by NOTIFY + IXFR.

A missing daemon fails the test with an install hint; nothing is ever skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings

from tests.dnsservers import (
    BindSecondary,
    BindServer,
    DNSServer,
    DNSServerError,
    KnotServer,
    PdnsServer,
    TechnitiumServer,
    ViewedBindServer,
    ZoneUnderTest,
    start_server,
)
from tests.peers._common import PeerUnavailable
from tests.realkube import ControlPlane, ControlPlaneError, start_control_plane

# The too_slow health check and the per-example deadline measure wall time: on a
# machine shared with other test runs they fail property tests at random.
settings.register_profile("dnssync", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("dnssync")

DNS_KINDS = ("bind", "knot", "pdns", "technitium")
S = TypeVar("S", bound=DNSServer)
SKEW_ZONE = "skew.test"

# Zone names are unique per session across all servers, so a name in a failure message
# points at exactly one zone.
_zone_numbers = itertools.count(1)


def _start(kind: str, *, faketime: str | None = None, zone: str | None = None) -> DNSServer:
    try:
        server = start_server(kind, faketime=faketime)
        if zone is not None:
            try:
                server.add_zone(zone)
            except BaseException:
                server.close()
                raise
    except DNSServerError as exc:
        message = str(exc)
    else:
        return server
    # pytest.fail, not skip: a machine without the daemons must not pass silently.
    pytest.fail(message, pytrace=False)


def _running(kind: str, cls: type[S]) -> Iterator[S]:
    """A server of ``kind`` (checked to be a ``cls``) for as long as the fixture lives."""
    server = _start(kind)
    assert isinstance(server, cls)
    yield server
    server.close()


@pytest.fixture(scope="session", autouse=True)
def _session_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI's default state directory is this session's own (never the home's): a
    zone snapshot from another session's server on the same port is never found."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))
        yield


@pytest.fixture(scope="session")
def bind_server() -> Iterator[BindServer]:
    """BIND 9.18 on a free loopback port."""
    yield from _running("bind", BindServer)


@pytest.fixture(scope="session")
def viewed_bind() -> Iterator[ViewedBindServer]:
    """BIND split into views by key: unsigned queries see frozen copies of zones, or none."""
    yield from _running("bind-views", ViewedBindServer)


@pytest.fixture(scope="session")
def bind_secondary() -> Iterator[BindSecondary]:
    """A BIND for secondary copies of `bind_server`'s zones (NOTIFY, IXFR with its key)."""
    yield from _running("bind-secondary", BindSecondary)


@pytest.fixture(scope="session")
def knot_server() -> Iterator[KnotServer]:
    """Knot DNS 3.2 on a free loopback port."""
    yield from _running("knot", KnotServer)


@pytest.fixture(scope="session")
def pdns_server() -> Iterator[PdnsServer]:
    """PowerDNS 4.7 (gsqlite3) on a free loopback port."""
    yield from _running("pdns", PdnsServer)


@pytest.fixture(scope="session")
def technitium_server() -> Iterator[TechnitiumServer]:
    """The Technitium 15 stand-in (tests/technitium.py) on a free loopback port."""
    yield from _running("technitium", TechnitiumServer)


@pytest.fixture(scope="session", params=DNS_KINDS, ids=DNS_KINDS)
def dns_server(request: pytest.FixtureRequest) -> DNSServer:
    """Each of the four servers in turn (started lazily through its own fixture)."""
    server = request.getfixturevalue(f"{request.param}_server")
    assert isinstance(server, DNSServer)
    return server


@pytest.fixture
def zone(dns_server: DNSServer) -> ZoneUnderTest:
    """A fresh zone z<N>.test on `dns_server` that `dns_server.key` may update and transfer."""
    name = f"z{next(_zone_numbers)}.test"
    dns_server.add_zone(name)
    return ZoneUnderTest(dns_server, name)


@pytest.fixture
def zone_name(zone: ZoneUnderTest) -> str:
    """The name of the `zone` fixture's zone, without trailing dot."""
    return zone.name


@pytest.fixture(scope="session")
def skewed_bind() -> Iterator[DNSServer]:
    """BIND with its wall clock two hours ahead (libfaketime): signed requests get BADTIME."""
    server = _start("bind", faketime="+2h", zone=SKEW_ZONE)
    yield server
    server.close()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver on loopback, with the shipped RBAC; restartable by tests."""
    try:
        plane = start_control_plane(tmp_path_factory.mktemp("realkube"))
    except (PeerUnavailable, ControlPlaneError) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield plane
    plane.close()
