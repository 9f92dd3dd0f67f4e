"""A call's text read as argument values: literals, containers and refs, nothing else.

The call is read with `ast` after its refs are swapped for placeholders, and only
literals, containers, unary minus and refs (with a path: ``$1.price``, ``$1[0]``) are
accepted: model output is never evaluated.
"""

from __future__ import annotations

import ast
import keyword
import re

from toolweave.errors import PlanError
from toolweave.plan._ir import Arg, Ref, Template

__all__ = ["CLOSE", "OPEN", "argument_name", "expression", "read_value"]

_REF = re.compile(r"\$\{(\d{1,9})\}|\$(\d{1,9})(?!\d)")
# Inside string literals a ref becomes a pair of private-use sentinels around its id;
# outside, a placeholder name. Neither can come from the model: sentinels are removed
# from the input first, and placeholder names are reserved.
OPEN, CLOSE = "\ue000", "\ue001"
_SENTINEL = re.compile(f"{OPEN}(\\d+){CLOSE}")
_TEXT_PATH = re.compile(r"(?:\.[A-Za-z_]\w*|\[\d+\])+")
_TEXT_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"^__tw_ref_(\d+)__$")
_KEYWORD_PLACEHOLDER = re.compile(r"^__tw_kw_(\w+)__$")
_WORD = re.compile(r"\w+")
_ASSIGN = re.compile(r"\s*=(?!=)")
_JSON_NAMES: dict[str, Arg] = {"true": True, "false": False, "null": None}
# Python cannot turn an integer of more than 4,300 digits into text (and every result,
# event and log shows it as text): about 1,000 digits is plenty for any argument.
_MAX_INT_BITS = 3_400

_RESULT_ARROW = re.compile(r"\)\s*->")
# What `_swap_refs` may change: a ref (``$``) or an argument named like a keyword
# (``from=``). Most lines have neither, and go to `ast` as they are.
_SWAPPABLE = re.compile(r"\$|(?:" + "|".join(keyword.kwlist) + r")\s*=")


def expression(call: str) -> ast.expr:
    """The call's syntax tree.

    A line that goes on after the call with ``-> result`` (small models copy the
    result lines of a replan prompt into their plan) parses as the call alone: the
    written result is ignored, the call runs. An argument named like a Python keyword
    (``from=``) parses under a placeholder name that `argument_name` reads back.
    """
    try:
        return ast.parse(_swap_refs(call), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        for arrow in _RESULT_ARROW.finditer(call):
            try:
                tree = ast.parse(_swap_refs(call[: arrow.start() + 1]), mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if isinstance(tree, ast.Call):
                return tree
        raise PlanError(f"not a valid call: {getattr(exc, 'msg', exc)}") from None


def _swap_refs(call: str) -> str:
    """Replace refs by placeholders: names outside string literals, sentinels inside."""
    if _SWAPPABLE.search(call) is None:
        return call  # nothing to swap: `_swap_each` would copy it a character at a time
    return _swap_each(call)


def _swap_each(call: str) -> str:
    """`_swap_refs`, the long way: a scan of the whole call."""
    out: list[str] = []
    i, n = 0, len(call)
    while i < n:
        c = call[i]
        if c in "\"'":
            quote = c * 3 if call.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not call.startswith(quote, j):
                j += 2 if call[j] == "\\" else 1
            end = min(j + len(quote), n)
            out.append(_REF.sub(lambda m: f"{OPEN}{m.group(1) or m.group(2)}{CLOSE}", call[i:end]))
            i = end
        elif c == "$":
            match = _REF.match(call, i)
            if match is None:
                raise PlanError("'$' must be followed by a task id")
            out.append(f"__tw_ref_{match.group(1) or match.group(2)}__")
            i = match.end()
        elif c.isalpha() or c == "_":
            word = _WORD.match(call, i)
            assert word is not None  # c starts a word
            i = word.end()
            name = word.group()
            # an argument named like a Python keyword (APIs take `from=`, `class=`)
            keyword_arg = keyword.iskeyword(name) and _ASSIGN.match(call, i) is not None
            out.append(f"__tw_kw_{name}__" if keyword_arg else name)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def argument_name(name: str) -> str:
    """A keyword argument's name as written (see `expression`)."""
    match = _KEYWORD_PLACEHOLDER.match(name)
    return match.group(1) if match else name


def read_value(node: ast.expr) -> Arg:
    """An argument's syntax tree as a value: a literal, a container or a ref."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return _string(value)
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            raise PlanError("the number is too large to be an argument")
        if value is None or isinstance(value, bool | int | float):
            return value
        raise PlanError(f"{type(value).__name__} literals are not allowed")
    if isinstance(node, ast.Attribute | ast.Subscript):
        return _path(node)
    if isinstance(node, ast.Name):
        if match := _PLACEHOLDER.match(node.id):
            return Ref(int(match.group(1)))
        if node.id in _JSON_NAMES:
            return _JSON_NAMES[node.id]
        raise PlanError(f"bare name {node.id!r} is not a value (quote strings, use $N for results)")
    if isinstance(node, ast.List | ast.Tuple):
        return [read_value(item) for item in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Arg] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise PlanError("dict keys must be plain strings")
            out[key.value.replace(OPEN, "$").replace(CLOSE, "")] = read_value(item)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        number = operand.value if isinstance(operand, ast.Constant) else None
        if isinstance(number, int | float) and not isinstance(number, bool):
            return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.JoinedStr):
        raise PlanError("f-strings are not allowed; use $N inside a plain string")
    raise PlanError(f"{type(node).__name__} expressions are not allowed in arguments")


_KEYS = (ast.Constant, ast.UnaryOp)  # what a ref's [...] may hold: "name", 0, -1


def _path(node: ast.Attribute | ast.Subscript) -> Ref:
    """A ref with a path: ``$1.price``, ``$1["price"]``, ``$1.items[0]``."""
    steps: list[str | int] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute | ast.Subscript):
        if isinstance(current, ast.Attribute):
            steps.append(current.attr)
        else:
            key = read_value(current.slice) if isinstance(current.slice, _KEYS) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise PlanError('a ref\'s [...] takes a literal key or index: $1["name"], $1[0]')
            steps.append(key)
        current = current.value
    if not (isinstance(current, ast.Name) and (match := _PLACEHOLDER.match(current.id))):
        raise PlanError("only a ref has fields: $1.name")
    return Ref(int(match.group(1)), tuple(reversed(steps)))


def _string(value: str) -> str | Template:
    if OPEN not in value:
        return value
    parts: list[str | Ref] = []
    pos = 0
    for match in _SENTINEL.finditer(value):
        if match.start() > pos:
            parts.append(value[pos : match.start()])
        path = _TEXT_PATH.match(value, match.end())  # "$1.name" (text if $1 has no name)
        steps = _TEXT_STEP.findall(path.group()) if path else []
        parts.append(Ref(int(match.group(1)), tuple(int(i) if i else n for n, i in steps)))
        pos = path.end() if path else match.end()
    if pos < len(value):
        parts.append(value[pos:])
    return Template(tuple(parts))
