"""The patch formats the API server accepts, as pure functions on JSON values.

- RFC 7386 JSON merge patch (`application/merge-patch+json`), also used as the
  approximation of strategic merge and server-side apply for built-in kinds;
- RFC 6902 JSON patch (`application/json-patch+json`).

Both work on deep copies: the stored object is never mutated in place, so
watch history entries that share it stay as they were.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch the server cannot apply (400 or 422 depending on the cause)."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strip_directives(patch: Any) -> Any:
    """Drop strategic-merge directives (`$patch`, `$retainKeys`, …) from a patch.

    The fake applies strategic merge patches to built-in kinds as merge patches;
    the `$`-keys would otherwise land in the stored object.
    """
    if isinstance(patch, dict):
        return {k: strip_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [strip_directives(v) for v in patch]
    return patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"doc is missing path: {path!r}", 422)
    return node


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    key = parts[-1]
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise PatchError(f"doc is missing path: {path!r}", 422)


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document", 422)
    parent = _parent(doc, parts, path)
    key = parts[-1]
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent.pop(int(key))
    raise PatchError(f"unable to remove nonexistent key: {key}: missing value", 422)


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    key = parts[-1]
    if isinstance(parent, dict):
        if replace and key not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}", 422)
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-" and not replace:
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(key)] = value
            else:
                parent.insert(int(key), value)
        else:
            raise PatchError(f"index out of range: {path}", 422)
    else:
        raise PatchError(f"doc is missing path: {path!r}", 422)
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902. A body that is not a list of operations is a 400, like the real server."""
    if not isinstance(ops, list):
        raise PatchError(
            "error decoding patch: json: cannot unmarshal object into Go value of type"
            " []handlers.jsonPatchOp"
            if isinstance(ops, dict)
            else "the body of the request was not a JSON patch (expected a list of operations)"
        )
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"missing value for {kind} operation at {path}")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed: test failed", 422)
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError(f"missing from for {kind} operation at {path}")
            value = _remove(doc, op["from"]) if kind == "move" else _get(doc, op["from"])
            doc = _add(doc, path, copy.deepcopy(value), replace=False)
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc
