"""Loading Services and Ingresses from a directory of YAML manifests."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.errors import ConfigError
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.annotations import ALPHA_PREFIX, DEFAULT_PREFIX
from dnssync.sources.convert import SourceOptions
from dnssync.sources.manifests import load_manifests, manifest_files, parse_chunk
from dnssync.sources.selector import parse_filter

P = DEFAULT_PREFIX
EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples" / "manifests"
MANAGED = SourceOptions(annotation_filter=parse_filter(f"{P}manage=mdapi"))
#: The shipped examples use the seed cluster's alpha prefix, as its config says.
SEED = SourceOptions(
    annotation_filter=parse_filter(f"{ALPHA_PREFIX}manage=mdapi"), annotation_prefix=ALPHA_PREFIX
)


def service(name: str, hostname: str, target: str = "192.0.2.1", namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}{ns}
          annotations:
            {P}hostname: {hostname}
            {P}target: "{target}"
        spec:
          type: LoadBalancer
        """
    ).replace("\n  namespace", "\n  namespace")


def ingress(name: str, host: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: {name}
          namespace: web
        spec:
          rules:
            - host: {host}
        """
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(endpoints: tuple[Endpoint, ...]) -> list[str]:
    return [e.name for e in endpoints]


def test_recursive_yaml_and_yml_hidden_skipped(tmp_path: Path) -> None:
    """Files are found recursively (.yaml, .yml); hidden dirs/files and other suffixes are not."""
    write(tmp_path / "a.yaml", service("a", "a.example.com"))
    write(tmp_path / "sub" / "deeper" / "b.yml", service("b", "b.example.com"))
    write(tmp_path / ".git" / "c.yaml", service("c", "c.example.com"))
    write(tmp_path / ".hidden.yaml", service("d", "d.example.com"))
    write(tmp_path / "notes.txt", service("e", "e.example.com"))
    write(tmp_path / "sub" / "F.YAML", service("f", "f.example.com"))
    r = load_manifests(tmp_path, SourceOptions())
    assert names(r.endpoints) == ["a.example.com", "b.example.com", "f.example.com"]
    assert r.errors == ()
    assert r.objects == 3


def test_files_are_sorted(tmp_path: Path) -> None:
    """Files are read in sorted path order, whatever the directory order."""
    for name in ("z.yaml", "a.yaml", "m/b.yaml", "b.yml"):
        write(tmp_path / name, "")
    files = [p.relative_to(tmp_path).as_posix() for p in manifest_files(tmp_path)]
    assert files == ["a.yaml", "b.yml", "m/b.yaml", "z.yaml"]


def test_single_file(tmp_path: Path) -> None:
    """A path naming one file loads just that file."""
    f = write(tmp_path / "one.yaml", service("a", "a.example.com"))
    write(tmp_path / "two.yaml", service("b", "b.example.com"))
    assert names(load_manifests(f, SourceOptions()).endpoints) == ["a.example.com"]


def test_missing_path_raises(tmp_path: Path) -> None:
    """A missing path is a ConfigError, never an empty (delete-everything) result."""
    with pytest.raises(ConfigError, match="neither a file nor a directory"):
        load_manifests(tmp_path / "nope", SourceOptions())


def test_multi_document_and_other_kinds(tmp_path: Path) -> None:
    """All documents of a file are read; other kinds and API groups are skipped quietly."""
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"
    knative = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: k\n"
    docs = [
        service("a", "a.example.com"),
        deployment,
        "",
        knative,
        ingress("i", "i.example.com"),
    ]
    write(tmp_path / "all.yaml", "---\n".join(docs) + "...\n")
    r = load_manifests(tmp_path, SourceOptions(default_targets=("192.0.2.9",)))
    assert names(r.endpoints) == ["a.example.com", "i.example.com"]
    assert r.objects == 2
    assert r.errors == ()


def test_list_items(tmp_path: Path) -> None:
    """Items of kind List are read, and ServiceList items may omit their kind."""
    text = textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: Service
            metadata:
              name: a
              annotations: {{{P}hostname: a.example.com, {P}target: 192.0.2.1}}
          - apiVersion: v1
            kind: ConfigMap
            metadata: {{name: c}}
        ---
        kind: ServiceList
        items:
          - metadata:
              name: b
              annotations: {{{P}hostname: b.example.com, {P}target: 192.0.2.2}}
        """
    )
    write(tmp_path / "list.yaml", text)
    r = load_manifests(tmp_path, SourceOptions())
    assert [(e.name, e.targets) for e in r.endpoints] == [
        ("a.example.com", ("192.0.2.1",)),
        ("b.example.com", ("192.0.2.2",)),
    ]
    assert r.objects == 2


def test_bad_yaml_reported_with_file_and_line_rest_loads(tmp_path: Path) -> None:
    """Broken YAML names the file and line; other documents and files still load."""
    good_before = service("a", "a.example.com")
    broken = "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n"
    good_after = service("b", "b.example.com")
    bad = write(tmp_path / "bad.yaml", "---\n".join([good_before, broken, good_after]))
    write(tmp_path / "other.yaml", service("c", "c.example.com"))
    r = load_manifests(tmp_path, SourceOptions())
    assert names(r.endpoints) == ["a.example.com", "b.example.com", "c.example.com"]
    assert len(r.errors) == 1
    error = r.errors[0]
    assert error.where == str(bad)
    unclosed = good_before.count("\n") + 5  # 1-based line of "name: [unclosed"
    assert error.message.startswith(f"invalid YAML at line {unclosed + 1}: ")
    assert f"while parsing a flow sequence at line {unclosed})" in error.message


def test_unreadable_encoding_reported(tmp_path: Path) -> None:
    """A file that is not UTF-8 is reported and the others still load."""
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    write(tmp_path / "ok.yaml", service("a", "a.example.com"))
    r = load_manifests(tmp_path, SourceOptions())
    assert names(r.endpoints) == ["a.example.com"]
    assert r.errors[0].where.endswith("latin1.yaml")


def test_default_targets_used(tmp_path: Path) -> None:
    """Objects without target annotation (manifests have no status) get the default targets."""
    write(tmp_path / "i.yaml", ingress("i", "i.example.com"))
    r = load_manifests(tmp_path, SourceOptions(default_targets=("192.0.2.7", "2001:db8::7")))
    assert [(e.name, e.type, e.targets) for e in r.endpoints] == [
        ("i.example.com", "A", ("192.0.2.7",)),
        ("i.example.com", "AAAA", ("2001:db8::7",)),
    ]
    assert r.endpoints[0].source == ObjectRef("ingress", "web", "i")


def test_namespace_defaults_to_default(tmp_path: Path) -> None:
    """An object without namespace lands in namespace default."""
    write(tmp_path / "a.yaml", service("a", "a.example.com"))
    r = load_manifests(tmp_path, SourceOptions())
    assert r.endpoints[0].source == ObjectRef("service", "default", "a")


def test_converter_errors_name_file_and_document(tmp_path: Path) -> None:
    """Errors from converting an object carry the file, the document and the resource."""
    docs = [service("a", "a.example.com"), service("b", "b.example.com", target="192.0.2.300")]
    f = write(tmp_path / "x.yaml", "---\n".join(docs))
    r = load_manifests(tmp_path, SourceOptions())
    assert names(r.endpoints) == ["a.example.com"]
    assert r.errors[0].where == f"{f} document 2: service default/b: annotation {P}target"


def test_no_target_error_without_defaults(tmp_path: Path) -> None:
    """Without defaults, an Ingress in a manifest reports that it has no target."""
    f = write(tmp_path / "i.yaml", ingress("i", "i.example.com"))
    r = load_manifests(tmp_path, SourceOptions())
    assert r.endpoints == ()
    assert r.errors[0].where == f"{f} document 1: ingress web/i"
    assert "no target" in r.errors[0].message


def test_unquoted_number_annotation_is_reported(tmp_path: Path) -> None:
    """`ttl: 300` unquoted is not a string, as the API server would say: reported, and ignored."""
    text = service("a", "a.example.com").replace(
        f'    {P}target: "192.0.2.1"\n', f'    {P}target: "192.0.2.1"\n    {P}ttl: 300\n'
    )
    write(tmp_path / "a.yaml", text)
    r = load_manifests(tmp_path, SourceOptions(default_ttl=None))
    assert [(e.name, e.ttl) for e in r.endpoints] == [("a.example.com", None)]
    assert "must be strings" in r.errors[0].message


def test_duplicate_object_reported(tmp_path: Path) -> None:
    """The same Service defined twice is reported; the first definition is kept."""
    write(tmp_path / "a.yaml", service("a", "first.example.com"))
    write(tmp_path / "b.yaml", service("a", "second.example.com"))
    r = load_manifests(tmp_path, SourceOptions())
    assert names(r.endpoints) == ["first.example.com"]
    assert "defined again" in r.errors[0].message
    assert r.objects == 2


def test_filter_applies(tmp_path: Path) -> None:
    """Objects that do not pass the annotation filter are counted but not published."""
    write(tmp_path / "a.yaml", service("a", "a.example.com"))
    r = load_manifests(tmp_path, MANAGED)
    assert r.endpoints == ()
    assert r.errors == ()
    assert r.objects == 1


def test_anchors_merge_keys_and_directives(tmp_path: Path) -> None:
    """YAML anchors, merge keys, %YAML directives and a BOM are handled like SafeLoader."""
    text = textwrap.dedent(
        f"""\
        %YAML 1.1
        ---
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: Service
            metadata:
              name: a
              annotations: &common
                {P}target: 192.0.2.1
                {P}hostname: a.example.com
          - apiVersion: v1
            kind: Service
            metadata:
              name: b
              annotations:
                <<: *common
                {P}hostname: b.example.com
        """
    )
    (tmp_path / "a.yaml").write_text("\ufeff" + text, encoding="utf-8")
    r = load_manifests(tmp_path, SourceOptions())
    assert [(e.name, e.targets) for e in r.endpoints] == [
        ("a.example.com", ("192.0.2.1",)),
        ("b.example.com", ("192.0.2.1",)),
    ]
    assert r.errors == ()


def test_flow_and_json_documents_are_read(tmp_path: Path) -> None:
    """Documents written in flow / JSON style (no `kind:` line) are still parsed."""
    text = (
        '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j", "annotations":'
        f' {{"{P}hostname": "j.example.com", "{P}target": "192.0.2.3"}}}}}}\n'
    )
    write(tmp_path / "j.yaml", text)
    r = load_manifests(tmp_path, SourceOptions())
    assert names(r.endpoints) == ["j.example.com"]


def test_kind_text_inside_other_kinds_is_not_an_object(tmp_path: Path) -> None:
    """A ConfigMap embedding Service YAML as text is not a Service."""
    text = textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
        data:
          svc.yaml: |
            kind: Service
            metadata:
              name: fake
              annotations:
                {P}hostname: fake.example.com
        """
    )
    write(tmp_path / "c.yaml", text)
    r = load_manifests(tmp_path, SourceOptions(default_targets=("192.0.2.1",)))
    assert r.endpoints == ()
    assert r.objects == 0
    assert r.errors == ()


def test_example_manifests() -> None:
    """The shipped example publishes exactly the opted-in objects into home.tillo.ch."""
    r = load_manifests(EXAMPLES, SEED)
    assert r.errors == ()
    assert r.objects == 5  # 3 Ingresses, 2 Services; the Deployment is not counted
    got = {(e.name, e.type, e.targets, e.ttl, e.source.resource) for e in r.endpoints}
    assert got == {
        ("grafana.home.tillo.ch", "A", ("192.0.2.10",), 300, "ingress/monitoring/grafana"),
        ("g.home.tillo.ch", "A", ("192.0.2.10",), 300, "ingress/monitoring/grafana"),
        (
            "ha.home.tillo.ch",
            "CNAME",
            ("ingress.home.tillo.ch",),
            600,
            "ingress/home/home-assistant",
        ),
        (
            "hass.home.tillo.ch",
            "CNAME",
            ("ingress.home.tillo.ch",),
            600,
            "ingress/home/home-assistant",
        ),
        (
            "ingress.home.tillo.ch",
            "A",
            ("192.0.2.10",),
            300,
            "service/ingress-nginx/ingress-nginx-controller",
        ),
        (
            "ingress.home.tillo.ch",
            "AAAA",
            ("2001:db8::10",),
            300,
            "service/ingress-nginx/ingress-nginx-controller",
        ),
        ("jellyfin.home.tillo.ch", "A", ("192.0.2.20",), 600, "service/media/jellyfin"),
        ("media.home.tillo.ch", "A", ("192.0.2.20",), 600, "service/media/jellyfin"),
    }
    assert not any(e.name.startswith("scratch.") for e in r.endpoints)


SCALAR = st.text(alphabet="0123456789.:-+_eExXbBoOyYnNsStTrRuUfFaAlL~ ", min_size=1, max_size=8)


@settings(max_examples=600, deadline=None)
@given(SCALAR, SCALAR)
def test_fast_parser_agrees_with_yaml_1_1_or_defers(key_part: str, value: str) -> None:
    """Where the fast YAML 1.2 parser is used, it reads what PyYAML (YAML 1.1) reads."""
    name = key_part.strip()
    text = f"apiVersion: v1\nkind: Service\nmetadata:\n  name: x{name}\nspec:\n  v: {value}\n"
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    documents, problem = parse_chunk((0, text))
    assert not problem
    assert documents == [expected]


@pytest.mark.parametrize("value", ["0XF", "0xF", "-0XF", "+0x_1", "0XFF", "0x"])
def test_hexadecimal_values_read_as_yaml_1_1_reads_them(value: str) -> None:
    """An uppercase 0X stays a string, a lowercase 0x a number, as PyYAML (YAML 1.1) reads them."""
    text = f"apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  v: {value}\n"
    documents, problem = parse_chunk((0, text))
    assert not problem
    assert documents == [yaml.safe_load(text)]


def test_an_alias_bomb_in_a_manifest_is_one_error_naming_the_file(tmp_path: Path) -> None:
    """Billion laughs in a manifest: bounded, reported with its file within a second."""
    from tests.unit.test_config import bomb

    (tmp_path / "a.yaml").write_text(service("fine", "fine.example.test"))
    doc = service("bomb", "bomb.example.test") + "  labels:\n" + bomb("    ") + "  ports: *i\n"
    (tmp_path / "b.yaml").write_text(doc.replace("spec:\n  type: LoadBalancer\n", "spec:\n"))
    started = time.monotonic()
    result = load_manifests(tmp_path, SourceOptions())
    assert time.monotonic() - started < 1.0
    assert [e.where for e in result.errors] == [str(tmp_path / "b.yaml")]
    assert "aliases" in str(result.errors[0])
    assert [e.name for e in result.endpoints] == ["fine.example.test"]
