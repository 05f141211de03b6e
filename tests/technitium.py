"""A Technitium DNS Server 15 stand-in: its RFC 2136, TSIG and zone-transfer behaviour.

Technitium needs the .NET 10 SDK and NuGet, which this machine cannot reach, so the test
harness runs this small asyncio server (dnspython for the wire) in its place.  Every
behaviour below is read from Technitium's source, cited as in ../shared/TECHNITIUM.md:
`TechnitiumSoftware/DnsServer` @ aa9044d4df9d and `TechnitiumLibrary` @ d4ca600a92c6
("DnsServer.cs L2926" is `DnsServerCore/Dns/DnsServer.cs` line 2926 at that commit).  The
policy match, prerequisite order and REFUSED were re-read on DnsServer @ 021a3066f099
(`IsUpdatePermittedAsync` and the prerequisite loop in `ProcessUpdateQueryAsync`: same text).

Run by `tests.dnsservers.TechnitiumServer` as `python technitium.py CONFIG PORT`; SIGHUP
re-reads CONFIG (zones added).  CONFIG (JSON) holds the server-wide TSIG keys and, per
zone, its zone file, `update` ("Allow"/"Deny"), `updateSecurityPolicies` as
`[key, domain, [TYPE, ...]]` rows, `zoneTransfer` and `zoneTransferTsigKeyNames`.

Where the source is ambiguous or was not checked line by line (read from TECHNITIUM.md
only), the stand-in picks and says so: a no-op add (same rdata and TTL) does not bump the
serial (`_change`); an IXFR from a serial the history no longer holds is answered with the
whole zone, AXFR-style (`_ixfr`); an IXFR over UDP gets the lone SOA; the exception cases
that get no answer are modelled by the one TTL > SOA EXPIRE case; zone files are written
at exit rather than per UPDATE (`Zone.save`).

Not modelled: the IP gates beyond Allow/Deny, DNSSEC, NOTIFY, secondaries forwarding
UPDATEs, catalog zones, EDNS EXPIRE.  Self-contained (dnspython only): it runs as a
separate process, the way the real server would.
"""

from __future__ import annotations

import asyncio
import copy
import io
import itertools
import json
import signal
import struct
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rrset
import dns.tsig
import dns.zone

#: `MAX_XFR_RESPONSE_SIZE` (TechnitiumLibrary DnsDatagram.cs L70): transfer messages <= 16 KiB.
MAX_XFR_RESPONSE_SIZE = 16384
#: `EDNS_MAX_UDP_PAYLOAD_SIZE` (DnsServer.cs L1615-1617): the UDP request buffer.
UDP_BUFFER = 4096
#: `DnsDatagram.GetTsigMacSize()` (DnsDatagram.cs L2033) has a case for these only: a key
#: of another algorithm (hmac-sha224, gss-tsig) is answered BADKEY even when configured.
KNOWN_ALGORITHMS = {
    "hmac-md5.sig-alg.reg.int",
    "hmac-sha1",
    "hmac-sha256",
    "hmac-sha256-128",
    "hmac-sha384",
    "hmac-sha384-192",
    "hmac-sha512",
    "hmac-sha512-256",
}
_META = {
    dns.rdatatype.ANY,
    dns.rdatatype.AXFR,
    dns.rdatatype.IXFR,
    dns.rdatatype.MAILA,
    dns.rdatatype.MAILB,
}


class NoAnswer(Exception):
    """An exception on the UPDATE path: Technitium logs it and sends nothing (A.2 step 7)."""


def _text(name: dns.name.Name | str) -> str:
    return str(name).rstrip(".").lower()


@dataclass
class Zone:
    """One primary zone with its options and the history IXFR is served from."""

    name: dns.name.Name
    file: Path
    zone: dns.zone.Zone
    update: str = "Deny"  # `enum AuthZoneUpdate` default Deny (ApexZone.cs L61)
    policies: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    zone_transfer: str = "AllowOnlyZoneNameServers"  # PrimaryZone.cs L92
    transfer_keys: set[str] = field(default_factory=set)
    #: (serial before, serial after, deleted rrs, added rrs), one entry per changed record.
    history: list[tuple[int, int, list[dns.rrset.RRset], list[dns.rrset.RRset]]] = field(
        default_factory=list
    )

    serial: int = 0  # kept apart from the SOA rdata: it moves once per record
    dirty: bool = False

    def __post_init__(self) -> None:
        self.serial = int(self._soa_rdataset()[0].serial)

    def _soa_rdataset(self) -> dns.rdataset.Rdataset:
        rds = self.zone.get_rdataset(self.name, dns.rdatatype.SOA)
        assert rds is not None
        return rds

    @property
    def soa(self) -> dns.rrset.RRset:
        rds = self._soa_rdataset()
        return dns.rrset.from_rdata(self.name, rds.ttl, rds[0].replace(serial=self.serial))

    def records(self) -> Iterator[dns.rrset.RRset]:
        """Every record but the SOA, one RR per RRset (as transfers carry them)."""
        for name, node in list(self.zone.nodes.items()):
            owner = name.derelativize(self.name)
            for rds in node.rdatasets:
                if rds.rdtype == dns.rdatatype.SOA:
                    continue
                for rd in rds:
                    yield dns.rrset.from_rdata(owner, rds.ttl, rd)

    def save(self) -> None:
        """`SaveZoneFile` (DnsServer.cs L3338) rewrites the whole file on every UPDATE; here
        dirty zones are written at exit (SIGTERM) only: dnspython takes seconds for a 20k
        record zone, which would hold every answer back.  A SIGKILL loses the updates."""
        rds = self._soa_rdataset()
        new = rds[0].replace(serial=self.serial)
        rds.clear()
        rds.add(new)
        self.zone.to_file(str(self.file), relativize=False, want_origin=True)
        self.dirty = False


class Server:
    """The zones and keys of one stand-in process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.keys: dict[str, dns.tsig.Key] = {}
        self.zones: dict[str, Zone] = {}
        self.load()

    def load(self) -> None:
        cfg = json.loads(self.config.read_text())
        # Key names trimmed of dots and lower-cased (WebServiceSettingsApi.cs ~L1162/1178).
        self.keys = {
            _text(k["name"]): dns.tsig.Key(_text(k["name"]) + ".", k["secret"], k["algorithm"])
            for k in cfg["keys"]
        }
        for name, z in cfg["zones"].items():
            zone = self.zones.get(_text(name))
            if zone is None:  # new: its data from the zone file; known: options only
                origin = dns.name.from_text(name)
                data = dns.zone.from_file(z["file"], origin=origin, relativize=False)
                zone = self.zones[_text(name)] = Zone(origin, Path(z["file"]), data)
            policies: dict[str, dict[str, set[str]]] = {}
            for key, domain, types in z.get("updateSecurityPolicies", []):
                policies.setdefault(_text(key), {}).setdefault(_text(domain), set()).update(
                    t.upper() for t in types
                )
            zone.policies = policies
            zone.update = z.get("update", "Deny")
            zone.zone_transfer = z.get("zoneTransfer", "AllowOnlyZoneNameServers")
            zone.transfer_keys = {_text(k) for k in z.get("zoneTransferTsigKeyNames", [])}

    def find_zone(self, name: dns.name.Name) -> Zone | None:
        """`FindAuthZoneInfo` (AuthZoneManager.cs L827): the closest enclosing zone."""
        labels = _text(name).split(".")
        for i in range(len(labels)):
            zone = self.zones.get(".".join(labels[i:]))
            if zone is not None:
                return zone
        return None

    # --- TSIG (DnsServer.cs L2619-2637 -> DnsDatagram.VerifySignedRequest, Library L1398)

    def verify(self, wire: bytes) -> tuple[dns.message.Message | None, bytes | None]:
        """The request verified, or (None, the answer to send) for a TSIG failure."""
        keys = {k.name: k for k in self.keys.values()}
        try:
            request = dns.message.from_wire(wire, keyring=keys)
        except (dns.message.UnknownTSIGKey, dns.tsig.BadAlgorithm, dns.tsig.PeerError):
            return None, _tsig_error(_bare(wire), dns.rcode.BADKEY)  # NOTAUTH+BADKEY, unsigned
        except dns.tsig.BadTime:
            return None, _badtime(_bare(wire), self.keys)
        except dns.tsig.BadSignature:
            return None, _tsig_error(_bare(wire), dns.rcode.BADSIG)  # NOTAUTH+BADSIG, unsigned
        except dns.exception.DNSException:
            return None, _formerr(wire)  # includes "more than one TSIG" -> FORMERR
        if request.had_tsig:
            key = self.keys.get(_text(request.keyname or ""))
            algorithm = _text(str(request.keyalgorithm))
            if (
                key is None
                or algorithm != _text(key.algorithm)
                or algorithm not in KNOWN_ALGORITHMS
            ):
                return None, _tsig_error(request, dns.rcode.BADKEY)
        return request, None

    # --- requests

    def handle(self, wire: bytes, *, tcp: bool) -> Iterable[bytes]:
        """The answer messages to send (none: the exception cases of A.2 step 7)."""
        request, failure = self.verify(wire)
        if failure is not None:
            return [failure]
        assert request is not None
        if request.opcode() == dns.opcode.UPDATE:
            try:
                return [self.update(request)]
            except NoAnswer:
                return []
        if request.opcode() != dns.opcode.QUERY or len(request.question) != 1:
            return [_answer(request, dns.rcode.NOTIMP)]
        qtype = request.question[0].rdtype
        if qtype == dns.rdatatype.AXFR and not tcp:
            return [_answer(request, dns.rcode.FORMERR)]  # DnsServer.cs L2722-2726
        if qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            return self.transfer(request, tcp=tcp)
        return [self.query(request)]

    def query(self, request: dns.message.Message) -> bytes:
        q = request.question[0]
        zone = self.find_zone(q.name)
        if zone is None:
            return _answer(request, dns.rcode.REFUSED)
        resp = dns.message.make_response(request)
        resp.flags |= dns.flags.AA
        rel = q.name
        node = zone.zone.get_node(rel)
        if node is None:
            resp.set_rcode(dns.rcode.NXDOMAIN)
            resp.authority.append(zone.soa)
            return resp.to_wire()
        rds = node.get_rdataset(dns.rdataclass.IN, q.rdtype)
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if q.rdtype == dns.rdatatype.SOA and q.name == zone.name:
            resp.answer.append(zone.soa)
        elif rds is not None:
            resp.answer.append(_rrset(q.name, rds))
        elif cname is not None:
            resp.answer.append(_rrset(q.name, cname))
        else:
            resp.authority.append(zone.soa)
        return resp.to_wire()

    # --- zone transfer (ProcessZoneTransferQueryAsync, DnsServer.cs L3443)

    def transfer(self, request: dns.message.Message, *, tcp: bool) -> Iterable[bytes]:
        q = request.question[0]
        zone = self.zones.get(_text(q.name))  # GetAuthZoneInfo: the exact zone only
        if zone is None:
            return [_answer(request, dns.rcode.REFUSED)]
        # The IP gate, then the key list; either failing -> REFUSED (A.4).
        if zone.zone_transfer != "Allow":
            return [_answer(request, dns.rcode.REFUSED)]
        if zone.transfer_keys and (
            not request.had_tsig or _text(request.keyname or "") not in zone.transfer_keys
        ):
            return [_answer(request, dns.rcode.REFUSED)]
        soa = zone.soa
        if q.rdtype == dns.rdatatype.IXFR:
            if not any(r.rdtype == dns.rdatatype.SOA for r in request.authority):
                return [_answer(request, dns.rcode.FORMERR)]
            rrs: Iterable[dns.rrset.RRset] = self._ixfr(zone, request)
            if not tcp:  # an IXFR over UDP returns only the SOA (A.4)
                rrs = [soa]
        else:
            rrs = itertools.chain([soa], zone.records(), [soa])
        return _sign_chain(request, rrs)

    def _ixfr(self, zone: Zone, request: dns.message.Message) -> Iterable[dns.rrset.RRset]:
        """RFC 1995 from the history `CommitAndIncrementSerial` keeps (ApexZone.cs L629)."""
        soa = zone.soa
        theirs = [r for r in request.authority if r.rdtype == dns.rdatatype.SOA]
        serial = int(theirs[0][0].serial)
        if serial == zone.serial:
            return [soa]
        start = next((i for i, h in enumerate(zone.history) if h[0] == serial), None)
        if start is None:  # history does not reach back: the whole zone, AXFR-style
            return itertools.chain([soa], zone.records(), [soa])
        out = [soa]
        for before, after, deleted, added in zone.history[start:]:
            out.append(_soa_with_serial(soa, before))
            out.extend(deleted)
            out.append(_soa_with_serial(soa, after))
            out.extend(added)
        out.append(soa)
        return out

    # --- UPDATE (ProcessUpdateQueryAsync, DnsServer.cs L2846)

    def update(self, request: dns.message.Message) -> bytes:
        # ZOCOUNT != 1 or zone type != SOA -> FORMERR; class != IN -> NOTAUTH.
        if len(request.question) != 1 or request.question[0].rdtype != dns.rdatatype.SOA:
            return _answer(request, dns.rcode.FORMERR)
        if request.question[0].rdclass != dns.rdataclass.IN:
            return _answer(request, dns.rcode.NOTAUTH)
        zone = self.find_zone(request.question[0].name)  # closest enclosing, not the apex
        if zone is None:
            return _answer(request, dns.rcode.NOTAUTH)
        rcode = self._prerequisites(zone, request)  # before permissions (L2963-3078)
        if rcode is None and not self._permitted(zone, request):
            rcode = dns.rcode.REFUSED  # L3082, signed like every normal answer
        if rcode is None:
            rcode = self._prescan(zone, request)  # L3086-3144
        if rcode is not None:
            return _answer(request, rcode)
        self._apply(zone, request)
        zone.dirty = True
        return _answer(request, dns.rcode.NOERROR)

    def _prerequisites(self, zone: Zone, request: dns.message.Message) -> int | None:
        wanted: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], set[dns.rdata.Rdata]] = {}
        for rr in request.answer:  # the prerequisite section
            if rr.ttl != 0:
                return dns.rcode.FORMERR
            found = self.find_zone(rr.name)
            if found is not zone:
                return dns.rcode.NOTZONE
            node = zone.zone.get_node(rr.name)
            rdclass = _class(rr)
            if rdclass in (dns.rdataclass.ANY, dns.rdataclass.NONE):
                if len(rr):  # RDLENGTH != 0
                    return dns.rcode.FORMERR
                exists = node is not None and (
                    rr.rdtype == dns.rdatatype.ANY
                    or node.get_rdataset(dns.rdataclass.IN, rr.rdtype) is not None
                )
                present = rdclass == dns.rdataclass.ANY
                if exists != present:
                    return _PREREQ_RCODES[(present, rr.rdtype == dns.rdatatype.ANY)]
            elif rdclass == dns.rdataclass.IN:
                wanted.setdefault((rr.name, rr.rdtype), set()).update(rr)
            else:
                return dns.rcode.FORMERR
        for (name, rdtype), rdatas in wanted.items():  # value-dependent: exactly equal
            rds = zone.zone.get_rdataset(name, rdtype)
            if rds is None or set(rds) != rdatas:
                return dns.rcode.NXRRSET
        return None

    def _permitted(self, zone: Zone, request: dns.message.Message) -> bool:
        """`IsUpdatePermittedAsync` (DnsServer.cs L2865-2958)."""
        if zone.update != "Allow":  # the IP gate; only Allow/Deny are modelled
            return False
        if not zone.policies:  # no policies at all: no TSIG required (issue #736)
            return True
        key = _text(request.keyname) if request.had_tsig and request.keyname else None
        policy = zone.policies.get(key) if key else None
        if policy is None:
            return False
        for rr in request.authority:  # every RR of the update section, name *and* type
            name = _text(rr.name)
            type_ = dns.rdatatype.to_text(rr.rdtype)
            if not any(
                (name == domain or (domain.startswith("*.") and name.endswith(domain[1:])))
                and ("ANY" in types or type_ in types)
                for domain, types in policy.items()
            ):
                return False
        return True

    def _prescan(self, zone: Zone, request: dns.message.Message) -> int | None:
        for rr in request.authority:
            if self.find_zone(rr.name) is not zone:
                return dns.rcode.NOTZONE
            rdclass = _class(rr)
            if rdclass == dns.rdataclass.IN and (rr.rdtype in _META or not len(rr)):
                return dns.rcode.FORMERR
            if rdclass == dns.rdataclass.NONE and rr.rdtype in _META:
                return dns.rcode.FORMERR
        return None

    def _apply(self, zone: Zone, request: dns.message.Message) -> None:
        """RR by RR (L3146-3336); on an exception the touched data is restored and no
        answer is sent (the exception is not caught on the UPDATE path, A.2 step 7)."""
        touched = {rr.name for rr in request.authority}
        saved = {n: copy.deepcopy(zone.zone.nodes.get(n)) for n in touched}
        saved_history = len(zone.history)
        saved_serial = zone.serial
        try:
            for rr in request.authority:
                self._apply_one(zone, rr)
        except NoAnswer:
            for n, node in saved.items():
                if node is None:
                    zone.zone.nodes.pop(n, None)
                else:
                    zone.zone.nodes[n] = node
            del zone.history[saved_history:]
            zone.serial = saved_serial
            raise

    def _apply_one(self, zone: Zone, rr: dns.rrset.RRset) -> None:
        apex = rr.name == zone.name
        rdclass = _class(rr)
        if rdclass == dns.rdataclass.IN:
            expire = int(zone._soa_rdataset()[0].expire)
            if rr.ttl > expire:  # PrimaryZone.cs L2685: "TTL cannot be greater than SOA EXPIRE"
                raise NoAnswer("TTL cannot be greater than SOA EXPIRE")
            node = zone.zone.get_node(rr.name)
            has_cname = node is not None and node.get_rdataset(
                dns.rdataclass.IN, dns.rdatatype.CNAME
            )
            if rr.rdtype == dns.rdatatype.CNAME:
                others = node is not None and any(
                    r.rdtype != dns.rdatatype.CNAME for r in node.rdatasets
                )
                if others:
                    return  # CNAME silently skipped beside other data
                for old in list(zone.zone.get_rdataset(rr.name, dns.rdatatype.CNAME) or []):
                    self._change(zone, rr.name, rr.rdtype, old, add=False, ttl=rr.ttl)
            elif has_cname:
                return  # non-CNAME silently skipped at a CNAME (RFC 2136 3.4.2.2)
            if rr.rdtype == dns.rdatatype.SOA and not apex:
                return
            for rd in rr:
                self._add(zone, rr.name, rr.ttl, rd)
        elif rdclass == dns.rdataclass.ANY:
            types = (
                [r.rdtype for r in zone.zone.get_node(rr.name).rdatasets]  # type: ignore[union-attr]
                if rr.rdtype == dns.rdatatype.ANY and zone.zone.get_node(rr.name)
                else [rr.rdtype]
            )
            for rdtype in types:
                if apex and rdtype in (dns.rdatatype.SOA, dns.rdatatype.NS):
                    continue  # at the apex SOA/NS are kept
                for old in list(zone.zone.get_rdataset(rr.name, rdtype) or []):
                    self._change(zone, rr.name, rdtype, old, add=False)
        elif rdclass == dns.rdataclass.NONE:
            if rr.rdtype == dns.rdatatype.SOA:
                return
            rds = zone.zone.get_rdataset(rr.name, rr.rdtype)
            for rd in rr:
                if rds is None or rd not in rds:
                    continue
                if apex and rr.rdtype == dns.rdatatype.NS and len(rds) == 1:
                    continue  # the last apex NS is never deleted
                self._change(zone, rr.name, rr.rdtype, rd, add=False)

    def _add(self, zone: Zone, name: dns.name.Name, ttl: int, rd: dns.rdata.Rdata) -> None:
        """`AuthZone.AddRecord` (AuthZone.cs L305-375): same rdata and TTL is a no-op; a new
        TTL rewrites the whole RRset's TTL."""
        rds = zone.zone.get_rdataset(name, rd.rdtype)
        if rds is not None and rd in rds and rds.ttl == ttl:
            return
        if rds is not None and rds.ttl != ttl:
            for old in list(rds):
                self._change(zone, name, rd.rdtype, old, add=False)
                self._change(zone, name, rd.rdtype, old, add=True, ttl=ttl)
            if rd in rds:
                return
        self._change(zone, name, rd.rdtype, rd, add=True, ttl=ttl)

    def _change(
        self,
        zone: Zone,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        rd: dns.rdata.Rdata,
        *,
        add: bool,
        ttl: int | None = None,
    ) -> None:
        """One record added or deleted, then `CommitAndIncrementSerial` (ApexZone.cs L629):
        the serial goes up by one **per record**, and the change joins the IXFR history.

        Ambiguous in the source: whether a no-op add still commits; here it does not."""
        rds = zone.zone.get_rdataset(name, rdtype, create=add)
        assert rds is not None
        old_ttl = rds.ttl
        if add:
            rds.add(rd)
            if ttl is not None:
                rds.ttl = ttl
        else:
            rds.discard(rd)
            if not len(rds):
                zone.zone.delete_rdataset(name, rdtype)
        rrset = dns.rrset.from_rdata(name, ttl if add and ttl is not None else old_ttl, rd)
        before = zone.serial
        after = zone.serial = (before + 1) % 2**32
        zone.history.append((before, after, [] if add else [rrset], [rrset] if add else []))


_PREREQ_RCODES = {
    (True, True): dns.rcode.NXDOMAIN,  # ANY/ANY: name in use, but it is not
    (False, True): dns.rcode.YXDOMAIN,  # NONE/ANY
    (True, False): dns.rcode.NXRRSET,  # ANY/type
    (False, False): dns.rcode.YXRRSET,  # NONE/type
}


def _class(rr: dns.rrset.RRset) -> int:
    """The class as sent: dnspython keeps ANY/NONE of an UPDATE RR in ``deleting``."""
    return int(rr.deleting) if rr.deleting is not None else int(rr.rdclass)


def _rrset(name: dns.name.Name, rds: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
    rrset.update(rds)
    return rrset


def _soa_with_serial(soa: dns.rrset.RRset, serial: int) -> dns.rrset.RRset:
    return dns.rrset.from_rdata(soa.name, soa.ttl, soa[0].replace(serial=serial))


def _answer(request: dns.message.Message, rcode: int) -> bytes:
    """A response with ``rcode``, signed when the request was (`SignResponse`)."""
    resp = dns.message.make_response(request)
    resp.flags |= dns.flags.AA
    resp.set_rcode(dns.rcode.Rcode(rcode))
    return resp.to_wire()


def _bare(wire: bytes) -> dns.message.Message:
    """The request parsed without checking its TSIG (to answer a failed one)."""
    return dns.message.from_wire(wire, keyring=False)


def _badtime(request: dns.message.Message, keys: dict[str, dns.tsig.Key]) -> bytes:
    """NOTAUTH + BADTIME, *signed*, with the server's time in "other"."""
    key = keys[_text(request.keyname or "")]
    resp = dns.message.make_response(request)
    resp.set_rcode(dns.rcode.NOTAUTH)
    now = int(time.time())
    resp.use_tsig(
        key,
        tsig_error=dns.rcode.BADTIME,
        other_data=struct.pack("!HI", now >> 32 & 0xFFFF, now & 0xFFFFFFFF),
        algorithm=key.algorithm,
    )
    resp.request_mac = request.mac or b""
    return resp.to_wire()


def _formerr(wire: bytes) -> bytes:
    header = bytearray(wire[:12].ljust(12, b"\x00"))
    header[2] = 0x80 | (header[2] & 0x78)
    header[3] = dns.rcode.FORMERR
    header[4:12] = b"\x00" * 8
    return bytes(header)


def _tsig_error(request: dns.message.Message, error: int) -> bytes:
    """NOTAUTH with a TSIG record carrying ``error`` and no MAC (unsigned)."""
    resp = dns.message.make_response(request)
    resp.set_rcode(dns.rcode.NOTAUTH)
    resp.keyring = None
    resp.tsig = None
    wire = bytearray(resp.to_wire())
    assert request.tsig is not None and request.keyname is not None
    old = request.tsig[0]
    rd = dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY,
        dns.rdatatype.TSIG,
        old.algorithm,
        old.time_signed,
        old.fudge,
        b"",
        request.id,
        error,
        b"",
    )
    rdata = rd.to_wire()
    assert rdata is not None
    owner = request.keyname.to_wire()
    assert owner is not None
    wire += owner + struct.pack("!HHIH", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(rdata))
    wire += rdata
    arcount = int.from_bytes(wire[10:12], "big") + 1
    wire[10:12] = arcount.to_bytes(2, "big")
    return bytes(wire)


def _sign_chain(request: dns.message.Message, rrs: Iterable[dns.rrset.RRset]) -> Iterator[bytes]:
    """Transfer messages of <= 16 KiB, **every one signed** (`SignResponse` signs the whole
    chain, Library L1517+), the first chained to the request's MAC; made as they are sent."""
    ctx: Any = None
    batch: list[dns.rrset.RRset] = []
    size = 12 + 300  # header, question and TSIG, generously

    def flush() -> bytes:
        nonlocal ctx, batch, size
        resp = dns.message.make_response(request)
        resp.flags |= dns.flags.AA
        resp.answer.extend(batch)
        data = resp.to_wire(multi=True, tsig_ctx=ctx)
        ctx = resp.tsig_ctx if request.had_tsig else None
        batch, size = [], 12 + 300
        return data

    for rr in rrs:
        buf = io.BytesIO()
        rr.to_wire(buf)  # uncompressed: an upper bound of its share
        n = buf.tell()
        if batch and size + n > MAX_XFR_RESPONSE_SIZE:
            yield flush()
        batch.append(rr)
        size += n
    yield flush()


# --- the process ------------------------------------------------------------------


def _handle(server: Server, data: bytes, *, tcp: bool) -> Iterator[bytes]:
    """Like Technitium's UDP/TCP handlers: an exception is logged, nothing (more) is sent."""
    try:
        yield from server.handle(data, tcp=tcp)
    except Exception:
        traceback.print_exc()


async def _serve(server: Server, port: int) -> None:
    loop = asyncio.get_running_loop()

    class Udp(asyncio.DatagramProtocol):
        transport: Any = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            for answer in _handle(server, data[:UDP_BUFFER], tcp=False):
                self.transport.sendto(answer, addr)

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(n)
                for answer in _handle(server, data, tcp=True):
                    writer.write(struct.pack("!H", len(answer)) + answer)
                    await writer.drain()  # streamed: the first message leaves at once
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", port))
    tcp_server = await asyncio.start_server(tcp, "127.0.0.1", port)
    loop.add_signal_handler(signal.SIGHUP, server.load)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"technitium stand-in listening on 127.0.0.1:{port}", flush=True)
    async with tcp_server:
        await stop.wait()
    for zone in server.zones.values():
        if zone.dirty:
            zone.save()


def main() -> None:
    asyncio.run(_serve(Server(Path(sys.argv[1])), int(sys.argv[2])))


if __name__ == "__main__":
    main()
