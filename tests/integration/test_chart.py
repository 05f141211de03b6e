"""The Helm chart charts/dnssync: `helm lint`, `helm template` with minimal, full and Fleet values.

helm is the real one (v3, from the Go module proxy: tests/peers/helm.py). Every rendered object
passes a schema check against the Kubernetes API's own types (the models kubernetes-asyncio is
generated from: unknown fields and wrong types fail, as the apiserver's strict validation does),
the pod and RBAC checks of the kustomize base (test_deploy.py), and dnssync's config loader.
The Fleet bundle (config/fleet.yaml) renders to the kustomize base's RBAC and config.
"""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes_asyncio.client as k8s
import pytest
import yaml

from dnssync.config import Config, load
from tests.integration.test_deploy import (
    ALLOWED_RULES,
    BASE,
    RBAC_KINDS,
    SIDECAR,
    TSIG_SECRET,
    Obj,
    check_pod,
    check_rbac,
    find,
    from_files,
    load_deployed_config,
    pod_of,
)
from tests.peers import helm as helm_peer

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "dnssync"
MINIMAL = CHART / "ci" / "minimal-values.yaml"
FULL = CHART / "ci" / "full-values.yaml"
FLEET = ROOT / "config" / "fleet.yaml"
RELEASE = NAMESPACE = "dnssync"
# Kinds the Kubernetes API types do not cover (CRDs): checked for apiVersion/kind/metadata only.
CRD_KINDS = {"Issuer", "Certificate", "ServiceMonitor"}
RELOADER = "reloader.stakater.com/auto"
# helm built by `go install` assumes Kubernetes 1.20 when no cluster is asked; name a current one.
KUBE_VERSION = "1.33.0"


TEMPLATE = ("template", RELEASE, CHART, "--kube-version", KUBE_VERSION)


def helm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the peer's helm; never reads this machine's Helm config or repositories."""
    binary = helm_peer.PEER.path("bin/helm")
    return subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def write_values(tmp: Path, values: Mapping[str, Any], name: str = "values.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(dict(values)))
    return path


def template(*values: Path, sets: Sequence[str] = ()) -> list[Obj]:
    """`helm template` of the chart as release dnssync in namespace dnssync, parsed."""
    args: list[str | Path] = [*TEMPLATE, "--namespace", NAMESPACE]
    for path in values:
        args += ["--values", path]
    for s in sets:
        args += ["--set", s]
    done = helm(*args)
    assert done.returncode == 0, f"helm template failed:\n{done.stderr[-3000:]}"
    objs = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    assert objs, "the chart renders nothing"
    for obj in objs:
        check_schema(obj)
    return objs


# --- schema check against the Kubernetes API types ------------------------------


def model_for(obj: Obj) -> type | None:
    """The kubernetes-asyncio model of an object's kind (None for CRDs)."""
    if obj["kind"] in CRD_KINDS:
        return None
    version = obj["apiVersion"].rpartition("/")[2]
    model = getattr(k8s, f"{version.capitalize()}{obj['kind']}", None)
    assert model is not None, f"{obj['kind']} {obj['apiVersion']}: no such Kubernetes type"
    return model  # type: ignore[no-any-return]


def check_schema(obj: Obj) -> None:
    """Every field of ``obj`` is one its Kubernetes type has, with a value of that field's type."""
    assert isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)
    assert isinstance(obj.get("metadata", {}).get("name"), str), obj
    model = model_for(obj)
    if model is not None:
        _check_value(obj, model.__name__, f"{obj['kind']}/{obj['metadata']['name']}")


def _check_value(value: Any, type_name: str, where: str) -> None:
    if value is None:
        return
    if type_name.startswith("list["):
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            _check_value(item, type_name[5:-1], f"{where}[{i}]")
        return
    if type_name.startswith("dict("):
        assert isinstance(value, dict), f"{where}: expected a mapping"
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            _check_value(item, inner, f"{where}.{key}")
        return
    scalars: dict[str, tuple[type, ...]] = {
        "str": (str,),
        "int": (int,),
        "bool": (bool,),
        "float": (int, float),
        "datetime": (str,),
        "date": (str,),
    }
    if type_name in scalars:
        ok = isinstance(value, scalars[type_name])
        ok = ok and not (type_name == "int" and isinstance(value, bool))
        assert ok, f"{where}: {value!r} is not {type_name}"
        return
    if type_name == "object":  # IntOrString, RawExtension, quantities
        return
    model = getattr(k8s, type_name)
    assert isinstance(value, dict), f"{where}: expected a {type_name} mapping"
    fields = {json_key: model.openapi_types[attr] for attr, json_key in model.attribute_map.items()}
    for key, item in value.items():
        assert key in fields, f"{where}: unknown field {key!r} in {type_name}"
        _check_value(item, fields[key], f"{where}.{key}")


# --- helpers --------------------------------------------------------------------


def deployed_config(objs: Sequence[Obj], tmp: Path) -> Config:
    cm = find(objs, "ConfigMap", f"{RELEASE}-config")
    return load_deployed_config(cm, "config.yaml", tmp)


def rules_of(objs: Sequence[Obj]) -> dict[tuple[str, str, str | None], Any]:
    """RBAC objects by (kind, name, namespace): rules, or roleRef and subjects."""
    out: dict[tuple[str, str, str | None], Any] = {}
    for o in objs:
        if o["kind"] not in RBAC_KINDS:
            continue
        key = (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))
        if "rules" in o:
            out[key] = sorted(
                (
                    tuple(r["apiGroups"]),
                    tuple(r["resources"]),
                    tuple(sorted(r["verbs"])),
                    tuple(r.get("resourceNames", ())),
                )
                for r in o["rules"]
            )
        else:
            out[key] = (o["roleRef"], o["subjects"])
    return out


def fleet() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FLEET.read_text())
    return data


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Fleet's merge of a targetCustomization's values: maps deep-merged, lists replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_reloader(objs: Sequence[Obj], *, on: bool) -> None:
    dep, _, _ = pod_of(objs)
    for meta in (dep["metadata"], dep["spec"]["template"]["metadata"]):
        annotations = meta.get("annotations") or {}
        assert (annotations.get(RELOADER) == "true") is on, meta


# --- tests ----------------------------------------------------------------------


def test_helm_lint() -> None:
    """`helm lint --strict` passes with the minimal and the full values."""
    for values in (MINIMAL, FULL):
        done = helm("lint", "--strict", CHART, "--values", values)
        assert done.returncode == 0, f"{values.name}:\n{done.stdout}{done.stderr}"
        assert "0 chart(s) failed" in done.stdout


def test_chart_defaults_ask_for_a_target() -> None:
    """Without targets or acme the chart refuses to render, with one line saying what to set."""
    done = helm(*TEMPLATE)
    assert done.returncode != 0
    first, *rest = [line for line in done.stderr.splitlines() if line.strip()]
    assert "set targets" in first
    assert rest == ["Use --debug flag to render out invalid YAML"], done.stderr


def test_minimal_values(tmp_path: Path) -> None:
    """One target: a secure pod, its key file from the Secret, only the RBAC it needs, Reloader."""
    objs = template(MINIMAL)
    cfg = check_pod(objs, rendered=True, tmp=tmp_path)
    dep, pod, c = pod_of(objs)
    assert dep["spec"]["replicas"] == 2 and cfg.leader_election.enabled
    assert cfg.leader_election.namespace == NAMESPACE
    assert cfg.leader_election.lease_name == "dnssync"
    raw = yaml.safe_load(find(objs, "ConfigMap", f"{RELEASE}-config")["data"]["config.yaml"])
    assert raw["targets"][0]["key"]["secret_file"] == "/etc/dnssync/secrets/dnssync-internal"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tsig"]["secret"]["secretName"] == "dnssync-tsig"
    assert not [o for o in objs if o["kind"] in {"Secret", "APIService", "ServiceMonitor"}]
    assert "webhook" not in {p["name"] for p in c["ports"]}
    check_reloader(objs, on=True)
    granted = {
        (g, r): set(rule["verbs"])
        for o in objs
        if o["kind"] in {"Role", "ClusterRole"}
        for rule in o["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert set(granted) == {k for k in ALLOWED_RULES if not k[0].startswith("acme")}
    for key, verbs in granted.items():
        assert verbs <= ALLOWED_RULES[key], key


def test_full_values(tmp_path: Path) -> None:
    """Every feature on: exact least-privilege RBAC, webhook wired to its APIService and cert."""
    objs = template(FULL)
    cfg = check_pod(objs, rendered=False, tmp=tmp_path)
    check_rbac(objs, cfg, NAMESPACE)
    dep, pod, c = pod_of(objs)
    assert c["image"] == "registry.example.org/dnssync:0.1.0"
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert dep["metadata"]["annotations"]["example.org/owner"] == "platform"
    assert dep["spec"]["template"]["metadata"]["annotations"]["example.org/team"] == "dns"
    check_reloader(objs, on=True)

    # Config: the values' targets and ACME section, the chart's lease and ports.
    assert [t.name for t in cfg.targets] == ["internal", "public"]
    assert cfg.targets[0].zones == ("example.org", "lab.example.org")
    assert cfg.leader_election.lease_name == "dnssync-a" and cfg.leader_election.duration == 20
    assert cfg.log.level == "debug" and cfg.kubernetes.namespaces == ("default", "web")
    assert cfg.acme is not None and cfg.acme.ttl == 120 and cfg.acme.challenges.grace == 300
    lease_role = find(objs, "Role", f"{RELEASE}-leader-election")
    assert ["dnssync-a"] in [r.get("resourceNames") for r in lease_role["rules"]]

    # The created Secret holds exactly the key files the config names.
    secret = find(objs, "Secret", f"{RELEASE}-tsig")
    raw = yaml.safe_load(find(objs, "ConfigMap", f"{RELEASE}-config")["data"]["config.yaml"])
    files = {
        key["secret_file"]
        for entry in [*raw["targets"], *raw["acme"]["servers"]]
        for key in (entry.get("key"), entry.get("transfer_key"))
        if key
    }
    assert {f"/etc/dnssync/secrets/{name}" for name in secret["stringData"]} == files
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tsig"]["secret"]["secretName"] == secret["metadata"]["name"]

    # Webhook: Service -> port webhook, APIService -> Service, cert-manager cert with CA injection.
    webhook = cfg.acme.webhook
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["webhook"] == webhook.port
    api = find(objs, "APIService")
    assert api["metadata"]["name"] == f"v1alpha1.{webhook.group_name}"
    svc = find(objs, "Service", api["spec"]["service"]["name"])
    assert svc["spec"]["ports"][0]["targetPort"] == "webhook"
    assert svc["spec"]["selector"].items() <= pod_labels(dep).items()
    tls_secret = volumes["webhook-tls"]["secret"]["secretName"]
    (cert,) = [
        o for o in objs if o["kind"] == "Certificate" and o["spec"]["secretName"] == tls_secret
    ]
    assert f"{svc['metadata']['name']}.{NAMESPACE}.svc" in cert["spec"]["dnsNames"]
    issuer = find(objs, "Issuer", cert["spec"]["issuerRef"]["name"])
    assert "ca" in issuer["spec"]
    annotation = api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert annotation == f"{NAMESPACE}/{cert['metadata']['name']}"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts[str(webhook.cert_file.parent)] == "webhook-tls"

    # ServiceMonitor: the metrics Service's port, not the webhook's.
    monitor = find(objs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selected = [
        s
        for s in objs
        if s["kind"] == "Service"
        and monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in selected] == [f"{RELEASE}-metrics"]
    assert monitor["spec"]["endpoints"][0]["port"] == selected[0]["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def pod_labels(dep: Obj) -> dict[str, str]:
    return dict(dep["spec"]["template"]["metadata"]["labels"])


def test_webhook_tls_provided(tmp_path: Path) -> None:
    """With a provided serving cert: no cert-manager objects, its Secret mounted, caBundle set."""
    values = {
        "acme": {
            "webhook": {
                "tls": {"certManager": False, "existingSecret": "my-tls", "caBundle": "Q0E="}
            }
        }
    }
    objs = template(FULL, write_values(tmp_path, values))
    assert not [o for o in objs if o["kind"] in {"Issuer", "Certificate"}]
    api = find(objs, "APIService")
    assert api["spec"]["caBundle"] == "Q0E="
    assert "cert-manager.io/inject-ca-from" not in (api["metadata"].get("annotations") or {})
    _, pod, _ = pod_of(objs)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == "my-tls"

    del values["acme"]["webhook"]["tls"]["caBundle"]
    done = helm(*TEMPLATE, "-f", FULL, "-f", write_values(tmp_path, values, "no-ca.yaml"))
    assert done.returncode != 0 and "acme.webhook.tls.caBundle" in done.stderr


def test_webhook_signed_by_an_existing_issuer(tmp_path: Path) -> None:
    """tls.issuerRef: that issuer signs the serving cert; the chart makes no CA of its own."""
    values = {
        "acme": {"webhook": {"tls": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}}}
    }
    objs = template(FULL, write_values(tmp_path, values))
    assert not [o for o in objs if o["kind"] == "Issuer"]
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer"}


def test_the_dnsendpoint_crd_is_installed_only_when_asked() -> None:
    """crds.dnsEndpoints renders external-dns's CRD exactly as config/crd/ ships it; off, none."""
    shipped = ROOT / "config" / "crd" / "dnsendpoints.externaldns.k8s.io.yaml"
    copy_in_chart = CHART / "files" / shipped.name
    assert copy_in_chart.read_text() == shipped.read_text(), "charts/dnssync/files/ is stale"
    assert not [o for o in template(MINIMAL) if o["kind"] == "CustomResourceDefinition"]
    objs = template(MINIMAL, sets=["crds.dnsEndpoints=true"])
    [crd] = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
    assert crd == yaml.safe_load(shipped.read_text())


def test_reloader_annotation_can_be_turned_off() -> None:
    """reloader.enabled false: neither the Deployment nor its pod template carry the annotation."""
    check_reloader(template(MINIMAL, sets=["reloader.enabled=false"]), on=False)


def test_one_writer_without_a_lease() -> None:
    """Two replicas without leader election are refused; one replica is replaced, not rolled."""
    done = helm(*TEMPLATE, "-f", MINIMAL, "--set", "leaderElection.enabled=false")
    assert done.returncode != 0 and "leaderElection.enabled" in done.stderr
    objs = template(MINIMAL, sets=["leaderElection.enabled=false", "replicaCount=1"])
    dep, _, _ = pod_of(objs)
    assert dep["spec"]["strategy"]["type"] == "Recreate"
    assert not [o for o in objs if o["kind"] in {"Role", "RoleBinding"}]


def test_fleet_bundle_uses_the_chart() -> None:
    """config/fleet.yaml deploys charts/dnssync, keeping 25 releases (helm.maxHistory)."""
    data = fleet()
    assert (FLEET.parent / data["helm"]["chart"]).resolve() == CHART
    assert data["helm"]["releaseName"] == RELEASE and data["defaultNamespace"] == NAMESPACE
    assert data["helm"]["maxHistory"] == 25
    assert "historyMax" not in FLEET.read_text()
    assert "kustomize" not in data, "one way of deploying per bundle: the chart"


def test_fleet_values_render_the_kustomize_base(tmp_path: Path) -> None:
    """The Fleet values render the base's RBAC exactly, and a config equal to the base's."""
    objs = template(write_values(tmp_path, fleet()["helm"]["values"]))
    base = from_files(BASE)
    assert rules_of(objs) == rules_of(base)
    cfg = check_pod(objs, rendered=True, tmp=tmp_path)
    check_rbac(objs, cfg, NAMESPACE)
    base_cfg = load_deployed_config(
        find(base, "ConfigMap", "dnssync-config"), "config.yaml", tmp_path
    )
    assert same_config(cfg, base_cfg)
    dep, pod, _ = pod_of(objs)
    _, base_pod, _ = pod_of(base)
    assert dep["spec"]["replicas"] == 2
    assert pod["securityContext"] == base_pod["securityContext"]
    assert {v["name"] for v in pod["volumes"]} == {v["name"] for v in base_pod["volumes"]}
    api = find(objs, "APIService")
    (patch,) = fleet()["diff"]["comparePatches"]
    assert patch["name"] == api["metadata"]["name"], "Fleet ignores cert-manager's caBundle"


def same_config(ours: Config, theirs: Config) -> bool:
    """Equal configs, but for what the chart sets itself from the release (lease namespace)."""
    a = ours.model_dump(mode="json")
    b = theirs.model_dump(mode="json")
    for cfg in (a, b):
        cfg["leader_election"].pop("namespace")
    assert a == b, _diff(a, b)
    return True


def _diff(a: Any, b: Any, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _diff(a.get(key), b.get(key), f"{where}.{key}")
    return f"{where}: chart {a!r} != base {b!r}"


def test_fleet_sidecar_customization(tmp_path: Path) -> None:
    """The sidecar cluster's values: one replica from a git checkout, no API, no RBAC."""
    data = fleet()
    (sidecar,) = [t for t in data["targetCustomizations"] if t["name"] == "sidecar"]
    values = merged(data["helm"]["values"], sidecar["helm"]["values"])
    objs = template(write_values(tmp_path, values))
    assert not [o for o in objs if o["kind"] in RBAC_KINDS | {"APIService", "Certificate"}]
    cfg = check_pod(objs, rendered=True, tmp=tmp_path)
    dep, pod, c = pod_of(objs)
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    assert pod["automountServiceAccountToken"] is False
    assert cfg.manifests is not None and not cfg.leader_election.enabled and cfg.acme is None
    (mount,) = [m for m in c["volumeMounts"] if cfg.manifests.is_relative_to(m["mountPath"])]
    assert mount.get("readOnly") is True
    writers = [
        x["name"]
        for x in [*pod["initContainers"], *pod["containers"]]
        if any(m["name"] == mount["name"] and not m.get("readOnly") for m in x["volumeMounts"])
    ]
    assert writers == ["git-sync-init", "git-sync"]
    sidecar_cfg = load_deployed_config(
        find(from_files(SIDECAR), "ConfigMap", "dnssync-config"), "config.yaml", tmp_path
    )
    assert same_config(cfg, sidecar_cfg)
    staging = [t for t in data["targetCustomizations"] if t["name"] == "staging"]
    assert staging[0]["helm"]["maxHistory"] == 5


def test_chart_config_loads_like_the_cli(tmp_path: Path) -> None:
    """The rendered config.yaml is one `dnssync check`-valid file (loaded with the real loader)."""
    objs = template(FULL)
    text = find(objs, "ConfigMap", f"{RELEASE}-config")["data"]["config.yaml"]
    secret = tmp_path / "secret"
    secret.write_text(TSIG_SECRET)
    path = tmp_path / "config.yaml"
    path.write_text(re.sub(r"/etc/dnssync/secrets/[\w-]+", str(secret), text))
    cfg = load(path, env={})
    assert cfg.http.port == 8080 and cfg.acme is not None
    assert cfg.acme.webhook.auth_configmap == "kube-system/extension-apiserver-authentication"


@pytest.mark.parametrize("values", [MINIMAL, FULL], ids=["minimal", "full"])
def test_labels_and_names(values: Path) -> None:
    """Every object carries the chart's labels; namespaced ones live in the release's namespace."""
    for o in template(values):
        labels = o["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/instance") == RELEASE, o["metadata"]["name"]
        assert labels.get("app.kubernetes.io/managed-by") == "Helm"
        namespace = o["metadata"].get("namespace")
        cluster_scoped = o["kind"] in {"ClusterRole", "ClusterRoleBinding", "APIService"}
        assert (namespace is None) == cluster_scoped, o["metadata"]["name"]
        assert namespace in {None, NAMESPACE, "kube-system"}
