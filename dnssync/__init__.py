"""dnssync: keep DNS in step with Kubernetes over TSIG-signed RFC 2136."""

__version__ = "0.1.0"
