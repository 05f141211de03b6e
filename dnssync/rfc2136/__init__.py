"""The DNS engine: everything that speaks DNS to the primaries.

Named after RFC 2136 (UPDATE), it holds all of it: the pure codec (`wire`: answers
and AXFR/IXFR framing; `tsig`: TSIG signing and verification; `updates`: UPDATE
messages; `answers`: rcodes and TSIG errors as dnssync errors), the transport
(`transport`: UDP, TCP, DNS over TLS, kept-alive connections, several primaries),
the operations on top (`client`: SOA, queries, transfers, UPDATE, one deadline per
operation), zone snapshots (`zones`: SOA -> IXFR -> AXFR), applying a plan
(`applier`) and the write-scope probe behind `dnssync check` (`scopes`).
"""
