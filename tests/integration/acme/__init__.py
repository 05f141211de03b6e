"""ACME against real BIND9, over real HTTPS, with a fake Kubernetes API."""
