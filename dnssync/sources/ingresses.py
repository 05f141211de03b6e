"""Ingress -> endpoints, as external-dns's ingress source does it.  Pure.

Names, all merged (a name listed twice is one name):

* ``spec.rules[].host`` (unless ``options.ingress_rule_hosts`` is off); a rule
  without host is a catch-all and names nothing;
* ``spec.tls[].hosts`` (unless ``options.ingress_tls_hosts`` is off);
* the ``hostname`` annotation.

The ``ingress-hostname-source`` annotation narrows that per object, as in
external-dns: ``annotation-only`` drops the rule and TLS hosts,
``defined-hosts-only`` drops the annotation (case-insensitive; empty means
unset).  Any other value is reported and ignored: every source is used, as
in external-dns.

Targets: the ``target`` annotation, else ``status.loadBalancer.ingress``
(ip -> A/AAAA, hostname -> CNAME; an IP beside a host name wins), else
``options.default_targets``, else an error and no endpoints.  Error handling
follows :mod:`dnssync.sources.annotations`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from dnssync.sources.convert import Conversion, SourceOptions, begin, mapping, no_names, sequence

ANNOTATION_ONLY: Final = "annotation-only"
DEFINED_HOSTS_ONLY: Final = "defined-hosts-only"


def ingress_endpoints(obj: Mapping[str, Any], options: SourceOptions) -> Conversion:
    """The endpoints one Ingress (raw API JSON) asks for; never raises."""
    started = begin(obj, "ingress", options)
    if isinstance(started, Conversion):
        return started
    work = started
    use_rules, use_tls, use_annotation = options.ingress_rule_hosts, options.ingress_tls_hosts, True
    source = work.annotation("ingress-hostname-source")
    if source is not None:
        full, value = source
        mode = value.strip().lower()
        if mode == ANNOTATION_ONLY:
            use_rules = use_tls = False
        elif mode == DEFINED_HOSTS_ONLY:
            use_annotation = False
        elif mode:
            work.error(
                f"{value!r} is not a hostname source; "
                f"expected {ANNOTATION_ONLY!r} or {DEFINED_HOSTS_ONLY!r}; every source is used",
                f"annotation {full}",
            )

    spec = mapping(obj.get("spec"))
    hosts: list[str] = []
    if use_rules:
        for i, rule in enumerate(sequence(spec.get("rules"))):
            host = work.host_field(mapping(rule).get("host"), f"spec.rules[{i}].host")
            if host:
                hosts.append(host)
    if use_tls:
        for i, tls in enumerate(sequence(spec.get("tls"))):
            for j, value in enumerate(sequence(mapping(tls).get("hosts"))):
                host = work.host_field(value, f"spec.tls[{i}].hosts[{j}]")
                if host:
                    hosts.append(host)
    if use_annotation:
        hosts.extend(work.hostnames_from("hostname") or [])
    if not hosts:
        places = [
            place
            for place, used in (
                ("spec.rules[].host", use_rules),
                ("spec.tls[].hosts", use_tls),
                (f"annotation {work.key('hostname')}", use_annotation),
            )
            if used
        ]
        return no_names(work, f"none in {', '.join(places) or 'any enabled source'}")

    if work.annotation_targets is not None:
        found = work.annotation("target")
        by_type = work.group(
            work.annotation_targets, f"annotation {found[0] if found else 'target'}"
        )
    else:
        targets = work.status_targets(obj)
        if targets is None:
            return work.failed()
        origin = "status.loadBalancer.ingress"
        if not targets:
            defaults = work.default_targets()
            if defaults is None:
                return work.failed()
            targets, origin = defaults, "default targets"
        if not targets:
            work.error(
                f"no target for {', '.join(sorted(set(hosts)))}: the ingress controller has not "
                "set status.loadBalancer.ingress; set the target annotation "
                f"({work.key('target')})"
            )
            return work.failed()
        by_type = work.group(targets, origin)
    if by_type is None:
        return work.failed()
    return work.endpoints((host, by_type) for host in hosts)
