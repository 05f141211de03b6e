"""Kubernetes and manifest sources: objects in, endpoints out."""
