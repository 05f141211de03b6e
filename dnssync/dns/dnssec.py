"""Why an UPDATE to a DNSSEC-signed zone fails: one DNSKEY query names the likely cause.

A zone signed offline (``dnssec-signzone``, or a panel such as Webmin) and served without
its private keys takes no dynamic update: BIND answers SERVFAIL and logs "found no active
private keys" (with the keys elsewhere it may instead keep the change unsigned in its
journal, so validating resolvers see bogus answers). A bare SERVFAIL says none of that,
so on SERVFAIL the zone's apex is asked for DNSKEY and, when it has some, the error says
what is likely wrong and what to do.
"""

from __future__ import annotations

import dns.rdatatype

from dnssync.dns.client import Client
from dnssync.errors import DNSError, ServerFailure
from dnssync.names import from_dns

SIGNED_ZONE_HINT = (
    "the zone is DNSSEC-signed; a zone signed offline whose private keys the server does "
    'not hold refuses every update (BIND logs "found no active private keys"): let the '
    "server sign it (dnssec-policy, keys in its key-directory) or CNAME _acme-challenge "
    "names into an unsigned zone"
)


async def dnskey_count(client: Client, zone: str) -> int:
    """How many DNSKEY records the zone's apex has (0: unsigned)."""
    msg = await client.query(zone, dns.rdatatype.DNSKEY, zone=zone)
    return sum(
        len(rrset)
        for rrset in msg.answer
        if rrset.rdtype == dns.rdatatype.DNSKEY and from_dns(rrset.name) == zone
    )


async def explain_servfail(client: Client, zone: str, error: ServerFailure) -> ServerFailure:
    """``error``, with the signed-zone cause added when the zone has DNSKEYs."""
    try:
        signed = await dnskey_count(client, zone) > 0
    except DNSError:
        return error  # the SERVFAIL is the news; a failed second look adds nothing
    if not signed:
        return error
    return ServerFailure(
        f"{error.detail}; {SIGNED_ZONE_HINT}",
        rcode=error.rcode,
        server=error.server,
        zone=error.zone,
    )
