"""Bounds on composed YAML, and YAML errors told without the text around them.

A YAML alias is a pointer: nine anchors of nine aliases each describe 9**9
values in a few hundred bytes ("billion laughs").  PyYAML's constructors
share aliased objects, so loading is cheap, but anything that walks the
result (validation, an error message's ``repr``) walks every expanded
value.  :func:`check_expansion` measures the expanded size on the node graph
in time linear in the number of distinct nodes, and refuses past a limit.

PyYAML's own error text quotes the offending line (its "snippet"); a
configuration line may hold a secret, so :func:`yaml_problem` keeps only the
problem, its line and column, and no text of the input longer than a few
characters.
"""

from __future__ import annotations

import re

import yaml

#: Far above any real document that uses aliases (GitOps trees rarely do);
#: a bomb goes past it after a few distinct nodes.
DEFAULT_NODE_LIMIT = 1_000_000


class ExpansionTooLarge(ValueError):
    """The YAML document expands (through aliases) to more than the limit."""


def check_expansion(node: yaml.Node, *, limit: int = DEFAULT_NODE_LIMIT) -> int:
    """The number of nodes ``node`` stands for once every alias is expanded.

    Raises :class:`ExpansionTooLarge` beyond ``limit``.  Iterative, so a deep
    document cannot exhaust the stack; recursive structures (an alias inside
    its own anchor) count once per visit path and are cut by the limit.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    on_path: set[int] = set()
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if key in sizes and not children_done:
            continue
        children = _children(current)
        if not children_done:
            if key in on_path:  # a cycle: an anchor that contains its own alias
                raise ExpansionTooLarge("the YAML refers to itself through an alias")
            on_path.add(key)
            stack.append((current, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        on_path.discard(key)
        total = 1 + sum(sizes[id(c)] for c in children)
        if total > limit:
            raise ExpansionTooLarge(
                f"the YAML expands through aliases to more than {limit:,} values"
            )
        sizes[key] = total
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


# Quoted input longer than this is cut from the problem text ("found
# character '\t'" stays useful; a quoted tag or alias that is a secret does not).
_QUOTED = re.compile(r"""(['"])([^'"]{4,})\1""")


def yaml_problem(error: yaml.YAMLError, *, first_line: int = 0) -> str:
    """``line L column C: problem (context at line M)``, without input text."""
    if isinstance(error, yaml.reader.ReaderError) and isinstance(error.character, int):
        # A character YAML does not allow, found before parsing: no marks.
        return (
            f"character {error.position + 1}: unacceptable character "
            f"#x{error.character:04x}: {error.reason}"
        )
    problem = getattr(error, "problem", None) or type(error).__name__
    mark = getattr(error, "problem_mark", None)
    text = _unquote(str(problem))
    if mark is not None:
        text = f"line {first_line + mark.line + 1} column {mark.column + 1}: {text}"
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    if context:
        text += f" ({_unquote(str(context))}"
        if context_mark is not None:
            text += f" at line {first_line + context_mark.line + 1}"
        text += ")"
    return text


def _unquote(text: str) -> str:
    return _QUOTED.sub(r"\1…\1", text)
