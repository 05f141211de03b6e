"""Client configuration: a kubernetes-asyncio ``ApiClient`` from a kubeconfig or in-cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

from dnssync import retry
from dnssync.errors import ConfigError
from dnssync.kube.translate import read_json, translating

ApiClient = client.ApiClient


async def api_client(kubeconfig: Path | None = None, *, context: str | None = None) -> ApiClient:
    """An API client from ``kubeconfig``, else in-cluster (service account), else ~/.kube/config."""
    try:
        cfg = client.Configuration()
        if kubeconfig is not None:
            await config.load_kube_config(
                config_file=str(kubeconfig), context=context, client_configuration=cfg
            )
            return client.ApiClient(configuration=cfg)
        try:
            config.load_incluster_config(client_configuration=cfg)
        except ConfigException:
            cfg = client.Configuration()
            await config.load_kube_config(context=context, client_configuration=cfg)
        return client.ApiClient(configuration=cfg)
    except (ConfigException, OSError) as e:
        raise ConfigError(f"cannot configure the Kubernetes client: {e}") from None


async def read_config_map(
    api: ApiClient, namespace: str, name: str, *, grace: float = 120.0
) -> dict[str, str]:
    """A ConfigMap's data; transient failures and refusals are retried for ``grace`` seconds."""
    what = f"read ConfigMap {namespace}/{name}"

    async def once() -> dict[str, str]:
        with translating(what):
            resp: Any = await client.CoreV1Api(api).read_namespaced_config_map(
                name, namespace, _preload_content=False, _request_timeout=10
            )
        body = await read_json(resp, what)
        data = body.get("data") if isinstance(body, dict) else None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    return await retry.call(once, deadline=grace, initial=0.5, cap=10.0)
