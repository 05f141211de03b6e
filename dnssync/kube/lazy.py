"""kubernetes-asyncio without its 1,500 generated models: its packages, loaded on demand.

``kubernetes_asyncio/__init__.py`` imports ``client``, whose ``__init__`` imports
every generated API class and every model (~1,300 modules, ~30 MiB resident on
CPython 3.11, half the memory of a service holding 20,000 objects). dnssync reads
the wire raw (``_preload_content=False``) and uses three API classes, so
:func:`install` puts in their place package modules that hold the same names but
import each one on first use, from the table the package's own ``__init__.py``
spells out (``from <module> import <Name>`` / ``import <module> as <name>``
lines).  ``importlib.util.LazyLoader`` and lazy-loader do not help: they defer
a module's ``__init__`` to its first attribute, and the first attribute
(``client.CoreV1Api``) runs all of it.

Nothing changes for a caller: every name the packages export still resolves
(``kubernetes_asyncio.client.models.V1Lease`` loads one model module, as the
client's deserializer asks). Where kubernetes-asyncio was imported before this
module, or its ``__init__`` files no longer look as expected, nothing is
replaced.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

#: The packages whose ``__init__`` is an eager list of imports.
PACKAGES = (
    "kubernetes_asyncio",
    "kubernetes_asyncio.client",
    "kubernetes_asyncio.client.api",
    "kubernetes_asyncio.client.models",
)

_IMPORT = re.compile(
    r"^(?:from (?P<source>[\w.]+) import (?P<name>\w+)|import (?P<module>[\w.]+) as (?P<alias>\w+))"
    r"[ \t]*(?:#.*)?$",
    re.MULTILINE,
)
_DOCSTRING = re.compile(r'^"""[\s\S]*?"""$', re.MULTILINE)
_ALL = re.compile(r"^__all__ = \[[^\]]*\]", re.MULTILINE)
_VERSION = re.compile(r'^__version__ = "([^"]+)"', re.MULTILINE)
#: Lines an eager ``__init__`` may hold besides its imports.
_OTHER = re.compile(r"^(?:#.*|\s*|__\w+__ = .*|from __future__ import .*)$")


def table(text: str) -> dict[str, tuple[str, str | None]] | None:
    """Exported name -> (module, attribute or None for the module itself); None if
    ``text`` holds anything but imports, ``__all__``, dunder assignments, comments and
    docstrings (then it is not the generated list this module knows)."""
    out: dict[str, tuple[str, str | None]] = {}
    body = _DOCSTRING.sub("", _ALL.sub("", text))
    for line in body.splitlines():
        m = _IMPORT.match(line)
        if m is None:
            if not _OTHER.match(line):
                return None
            continue
        if m["source"] == "__future__":
            continue
        if m["source"]:
            out[m["name"]] = (m["source"], m["name"])
        else:
            out[m["alias"]] = (m["module"], None)
    return out


class LazyPackage(types.ModuleType):
    """A package whose exported names are imported when first read."""

    def __init__(self, name: str, directory: Path, names: dict[str, tuple[str, str | None]]):
        super().__init__(name)
        self.__path__ = [str(directory)]
        self.__package__ = name
        self.__file__ = str(directory / "__init__.py")
        self.__all__ = list(names)
        self._names = names

    def __getattr__(self, attr: str) -> Any:
        try:
            source, name = self.__dict__["_names"][attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None
        module = importlib.import_module(source)
        value = module if name is None else getattr(module, name)
        setattr(self, attr, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self._names})


def install() -> bool:
    """Put the lazy packages in ``sys.modules``; False (and nothing done) if not possible."""
    if any(name in sys.modules for name in PACKAGES):
        return False
    spec = importlib.util.find_spec(PACKAGES[0])
    if spec is None or spec.origin is None:
        return False
    root = Path(spec.origin).parent
    made: list[LazyPackage] = []
    for name in PACKAGES:
        directory = root.joinpath(*name.split(".")[1:])
        try:
            text = (directory / "__init__.py").read_text(encoding="utf-8")
        except OSError:
            return False
        names = table(text)
        if names is None:
            return False
        package = LazyPackage(name, directory, names)
        if version := _VERSION.search(text):
            package.__version__ = version.group(1)  # type: ignore[attr-defined]
        made.append(package)
    for package in made:
        sys.modules[package.__name__] = package
        parent, _, child = package.__name__.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, package)
    return True
