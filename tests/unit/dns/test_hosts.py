"""Host choice for several primaries: failover order for writes, turns for spread reads."""

from __future__ import annotations

from dnssync.dns.transport import Hosts
from dnssync.dns.zones import serial_behind


def test_reads_take_turns_and_pass_over_a_host_marked_down() -> None:
    """With spread reads each zone read starts on the next host; one marked down is passed
    over (the next up takes its turn), while writes still pick the first host up."""
    hosts = Hosts([("a", 53), ("b", 53), ("c", 53)], spread=True)
    a, b, c = list(hosts)
    starts = [hosts.reading() for _ in range(4)]
    assert starts == [a, b, c, a]
    assert [hosts.pick(start=s) for s in (a, b, c)] == [a, b, c]
    hosts.failed(b, "down")
    assert hosts.pick(start=b) is c
    assert hosts.pick() is a
    assert hosts.pick(start=c, tried=[c]) is a


def test_ordered_reads_have_no_turns() -> None:
    """Without spread (or with one host) a read starts where writes go."""
    assert Hosts([("a", 53), ("b", 53)]).reading() is None
    assert Hosts([("a", 53)], spread=True).reading() is None


def test_serial_behind_uses_serial_arithmetic() -> None:
    """RFC 1982: 4294967295 is behind 1 (wrapped), 5 is behind 6, equal is not behind."""
    assert serial_behind(5, 6)
    assert not serial_behind(6, 5)
    assert not serial_behind(7, 7)
    assert serial_behind(4294967295, 1)
    assert not serial_behind(1, 4294967295)
