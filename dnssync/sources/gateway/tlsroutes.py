"""TLSRoute (``gateway.networking.k8s.io/v1``) -> endpoints.  Pure.

Attaches to TLS listeners; names from ``spec.hostnames`` and the hostname
annotation, intersected with the listeners' hostnames; the rest is
:mod:`dnssync.sources.gateway.routes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from dnssync.sources.convert import Conversion, SourceOptions
from dnssync.sources.gateway.routes import RouteKind, route_endpoints
from dnssync.sources.lookup import Lookup

ROUTE: Final = RouteKind(ref="tlsroute", kind="TLSRoute", protocol="TLS", hostnames=True)


def tlsroute_endpoints(
    obj: Mapping[str, Any], options: SourceOptions, lookup: Lookup
) -> Conversion:
    """The endpoints one TLSRoute (raw API JSON) asks for; never raises."""
    return route_endpoints(ROUTE, obj, options, lookup)
