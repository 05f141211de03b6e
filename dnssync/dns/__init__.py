"""The DNS edge: zone transfers (AXFR/IXFR), TSIG, UPDATE, and the transport to the primaries.

As `kube` is the one place that speaks to the Kubernetes API, this package is the one
place that speaks DNS: the pure codec (`wire`: answers and AXFR/IXFR framing; `tsig`:
TSIG signing and verification, `gss` for GSS-TSIG; `updates`: RFC 2136 UPDATE
messages; `answers`: rcodes and TSIG errors as dnssync errors, once), the transport
(`transport`: UDP, TCP, DNS over TLS, kept-alive connections, several primaries), the
operations on top (`client`: SOA, queries, transfers, UPDATE, one deadline per
operation), zone snapshots (`zones`: SOA -> IXFR -> AXFR), applying a plan (`applier`)
and the write-scope probe behind `dnssync check` (`scopes`).
"""
