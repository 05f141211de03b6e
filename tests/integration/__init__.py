"""Integration tests against real DNS servers and the fake Kubernetes API."""
