"""TCPRoute (``gateway.networking.k8s.io/v1alpha2``) -> endpoints.  Pure.

Attaches to TCP (and TLS) listeners; it has no hostnames of its own: names
from the hostname annotation, or the listeners' hostnames; the rest is
:mod:`dnssync.sources.gateway.routes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from dnssync.sources.convert import Conversion, SourceOptions
from dnssync.sources.gateway.routes import RouteKind, route_endpoints
from dnssync.sources.lookup import Lookup

ROUTE: Final = RouteKind(ref="tcproute", kind="TCPRoute", protocol="TCP", hostnames=False)


def tcproute_endpoints(
    obj: Mapping[str, Any], options: SourceOptions, lookup: Lookup
) -> Conversion:
    """The endpoints one TCPRoute (raw API JSON) asks for; never raises."""
    return route_endpoints(ROUTE, obj, options, lookup)
