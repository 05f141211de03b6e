"""Prometheus metrics (``dnssync_*``), one registry per process.

Labels are target, zone, and small closed sets (action, rcode, kind); never
a record name, so cardinality stays bounded, and never a key or secret.
The ACME side registers its own ``dnssync_acme_*`` metrics on the same
registry (:mod:`dnssync.acme.challenges`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every dnssync metric, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        tz = ("target", "zone")
        self.reconcile_seconds = Histogram(
            "dnssync_reconcile_duration_seconds",
            "Time to read, plan and apply one zone.",
            tz,
            registry=r,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.last_success = Gauge(
            "dnssync_last_success_timestamp_seconds",
            "Unix time of the last reconcile of the zone without errors.",
            tz,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "dnssync_reconcile_errors_total", "Reconciles that ended in an error.", tz, registry=r
        )
        self.records_owned = Gauge(
            "dnssync_records_owned", "Record sets owned by this owner id.", tz, registry=r
        )
        self.records_desired = Gauge(
            "dnssync_records_desired", "Record sets the sources ask for.", tz, registry=r
        )
        self.changes = Counter(
            "dnssync_changes_applied_total",
            "Changes applied, by action.",
            (*tz, "action"),
            registry=r,
        )
        self.rejected = Counter(
            "dnssync_changes_rejected_total",
            "Changes the server rejected (conflicting writer, refused by policy).",
            tz,
            registry=r,
        )
        self.conflicts = Gauge(
            "dnssync_conflicts", "Names wanted by more than one object.", tz, registry=r
        )
        self.skipped = Gauge(
            "dnssync_skipped",
            "Desired records not planned (not ours, outside the zone, invalid).",
            tz,
            registry=r,
        )
        self.orphans = Gauge(
            "dnssync_orphans",
            "Record sets of ours that nothing wants, kept by the policy.",
            tz,
            registry=r,
        )
        self.dns_errors = Counter(
            "dnssync_dns_errors_total",
            "DNS errors by rcode (or TSIG error, TIMEOUT, CONNECT).",
            (*tz, "rcode"),
            registry=r,
        )
        self.transfers = Counter(
            "dnssync_zone_reads_total",
            "Zone reads by how they were served: none (SOA unchanged), ixfr, axfr.",
            (*tz, "kind"),
            registry=r,
        )
        self.server_up = Gauge(
            "dnssync_server_up",
            "1 while a primary of the target is in use, 0 while it is passed over after failures.",
            ("target", "host"),
            registry=r,
        )
        self.server_failovers = Counter(
            "dnssync_server_failovers_total",
            "Times traffic moved away from a primary after a failure.",
            ("target", "host"),
            registry=r,
        )
        self.server_requests = Counter(
            "dnssync_server_requests_total",
            "Zone transfers and UPDATEs each primary answered (round-robin spreads transfers).",
            ("target", "host", "kind"),
            registry=r,
        )
        self.plan_refused = Gauge(
            "dnssync_plan_refused",
            "1 while the safety gate refuses the zone's plan (its deletes and rewrites wait).",
            tz,
            registry=r,
        )
        self.leader = Gauge(
            "dnssync_leader", "1 when this replica holds the lease and writes.", registry=r
        )
        self.kube_errors = Counter(
            "dnssync_kube_errors_total",
            "Failed Kubernetes API calls, by component and error (KubeRefused, ...).",
            ("component", "error"),
            registry=r,
        )
        self.kube_failing = Gauge(
            "dnssync_kube_failing",
            "1 while a component's Kubernetes API calls fail (source, leader election).",
            ("component",),
            registry=r,
        )
        self.invalid_objects = Gauge(
            "dnssync_invalid_objects",
            "Objects (or manifest documents) a target ignores, wholly or in part, as invalid.",
            ("target",),
            registry=r,
        )
        self.events = Counter(
            "dnssync_events_total",
            "Kubernetes Events: created, aggregated (count patched), dropped, failed.",
            ("result",),
            registry=r,
        )
