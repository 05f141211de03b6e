"""kubernetes-asyncio's packages loaded on demand: the same names, a fraction of the modules."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from dnssync.kube import lazy

EDGE = "dnssync.kube." + ", dnssync.kube.".join(
    ("client", "events", "informer", "leader", "resources", "status", "translate")
)


def _run(code: str) -> object:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def test_the_kubernetes_edge_loads_no_generated_model() -> None:
    """Importing every module of dnssync.kube loads no model and only a few kubernetes-asyncio
    modules (the eager package loads ~1,300)."""
    loaded = _run(
        f"""
        import json, sys
        import {EDGE}
        print(json.dumps([m for m in sys.modules if m.startswith("kubernetes_asyncio")]))
        """
    )
    assert isinstance(loaded, list)
    assert not [m for m in loaded if m.startswith("kubernetes_asyncio.client.models.")]
    assert len(loaded) < 40


_EXPORTS = """
    import json, sys
    {prelude}
    import importlib
    out = {{}}
    for package in {packages!r}:
        module = importlib.import_module(package)
        out[package] = {{
            name: getattr(getattr(module, name), "__name__", None) for name in module.__all__
        }}
    out["version"] = sys.modules["kubernetes_asyncio.client"].__version__
    print(json.dumps(out, sort_keys=True))
"""


def test_every_exported_name_resolves_to_what_the_eager_package_gives() -> None:
    """Each name in each package's __all__ is the same class or module, lazy or eager."""
    lazy_exports = _run(_EXPORTS.format(prelude="import dnssync.kube", packages=lazy.PACKAGES))
    eager_exports = _run(_EXPORTS.format(prelude="", packages=lazy.PACKAGES))
    assert lazy_exports == eager_exports
    assert isinstance(lazy_exports, dict)
    assert len(lazy_exports["kubernetes_asyncio.client.models"]) > 500


def test_a_model_is_loaded_alone_when_the_client_deserializes_one() -> None:
    """The deserializer's getattr(models, "V1Lease") loads that model and what it needs."""
    loaded = _run(
        """
        import json, sys
        import dnssync.kube.client
        import kubernetes_asyncio.client.models as models
        lease = models.V1Lease
        print(json.dumps([lease.__name__] + [m for m in sys.modules if ".models." in m]))
        """
    )
    assert isinstance(loaded, list)
    assert loaded[0] == "V1Lease"
    assert "kubernetes_asyncio.client.models.v1_lease" in loaded
    assert len(loaded) < 10


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('"""doc"""\n\nfrom __future__ import absolute_import\n__version__ = "1"\n', {}),
        ("from a.b import C\nimport a.d as d\n", {"C": ("a.b", "C"), "d": ("a.d", None)}),
        ('from a.b import C  # noqa\n__all__ = [\n    "C",\n]\n', {"C": ("a.b", "C")}),
        ("from a.b import C\nC.x = 1\n", None),  # any other statement: not the known shape
        ("try:\n    from a import b\nexcept ImportError:\n    pass\n", None),
        ("from a import (b, c)\n", None),
    ],
)
def test_only_a_plain_list_of_imports_is_made_lazy(
    text: str, names: dict[str, tuple[str, str | None]] | None
) -> None:
    """An __init__ that does anything but import names is left to run as written."""
    assert lazy.table(text) == names


def test_nothing_is_replaced_once_the_package_is_loaded() -> None:
    """Where kubernetes-asyncio came first (as in this test process), install() leaves it."""
    import kubernetes_asyncio

    before = sys.modules["kubernetes_asyncio"]
    assert lazy.install() is False
    assert sys.modules["kubernetes_asyncio"] is before is kubernetes_asyncio
