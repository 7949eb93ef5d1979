"""HCL2 type constraints and value conversion (the part of go-cty Nomad relies on).

Values are plain Python: ``None`` (null), ``bool``, ``int``/``float`` (number),
``str``, ``list`` (tuple/list/set) and ``dict`` (object/map).  A type is a
small tuple: ``("string",)``, ``("list", T)``, ``("object", {name: T})``...

``convert`` follows cty's safe conversions: numbers and bools become strings,
numeric/boolean strings become numbers/bools, tuples become lists, objects
become maps.  Failures raise ``ConversionError`` with cty's wording ("a number
is required"); callers add file, line and column.  Pure.
"""

from __future__ import annotations

import math
from typing import Any

from reconciler.jobspec import hcl_syntax as ast

Type = tuple[Any, ...]

STRING: Type = ("string",)
NUMBER: Type = ("number",)
BOOL: Type = ("bool",)
ANY: Type = ("any",)


class ConversionError(Exception):
    """A value that cannot be converted to the wanted type; ``str(exc)`` is cty's text."""


def parse_type(expr: ast.Expr) -> Type:
    """A type expression (``list(object({a = string}))``) → a type tuple."""
    if isinstance(expr, ast.Variable) and expr.name in ("string", "number", "bool", "any"):
        return (expr.name,)
    if isinstance(expr, ast.Call) and len(expr.args) == 1:
        arg = expr.args[0]
        if expr.name in ("list", "set", "map"):
            return (expr.name, parse_type(arg))
        if expr.name == "object" and isinstance(arg, ast.ObjectExpr):
            attrs: dict[str, Type] = {}
            for k, v in arg.items:
                key = k.value if isinstance(k, ast.Literal) else getattr(k, "name", None)
                if not isinstance(key, str):
                    raise ConversionError("Object type attribute names must be identifiers.")
                attrs[key] = parse_type(v)
            return ("object", attrs)
        if expr.name == "tuple" and isinstance(arg, ast.TupleExpr):
            return ("tuple", [parse_type(i) for i in arg.items])
    if isinstance(expr, ast.Parens):
        return parse_type(expr.inner)
    raise ConversionError(
        "Invalid type specification; The keyword or function is not a valid type constraint."
    )


def infer_type(v: Any) -> Type:
    """The type of a value as cty sees a literal: tuples and objects keep their shape."""
    if v is None:
        return ANY
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, (int, float)):
        return NUMBER
    if isinstance(v, str):
        return STRING
    if isinstance(v, list):
        return ("tuple", [infer_type(i) for i in v])
    if isinstance(v, dict):
        return ("object", {k: infer_type(v[k]) for k in v})
    return ANY


def type_name(t: Type) -> str:
    kind = str(t[0])
    if kind in ("string", "number", "bool"):
        return kind
    if kind == "any":
        return "any type"
    if kind in ("list", "set", "map"):
        return f"{kind} of {type_name(t[1])}"
    return kind


def format_number(n: int | float) -> str:
    """cty's number → string: shortest exact form, never exponent notation."""
    if isinstance(n, bool):
        return "true" if n else "false"
    if isinstance(n, int):
        return str(n)
    if math.isinf(n):
        return "+Inf" if n > 0 else "-Inf"
    if n.is_integer() and abs(n) < 1e21:
        return str(int(n))
    text = repr(n)
    if "e" in text or "E" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text


def parse_number(text: str) -> int | float:
    s = text.strip()
    if s != text or not s:
        raise ConversionError("a number is required")
    try:
        if s.lstrip("+-").isdigit():
            return int(s)
        v = float(s)
    except ValueError:
        raise ConversionError("a number is required") from None
    if math.isnan(v):
        raise ConversionError("a number is required")
    return int(v) if v.is_integer() and abs(v) < 2**63 else v


def to_number(v: Any) -> int | float:
    if isinstance(v, bool) or v is None:
        raise ConversionError("a number is required")
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        return parse_number(v)
    raise ConversionError("a number is required")


def to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v in ("true", "false", "1", "0"):
        return v in ("true", "1")
    raise ConversionError("a bool is required")


def to_string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return format_number(v)
    raise ConversionError("string required")


def convert(v: Any, t: Type) -> Any:
    """Convert ``v`` to type ``t`` the way cty does; null stays null."""
    kind = t[0]
    if v is None or kind == "any":
        return v
    if kind == "string":
        return to_string(v)
    if kind == "number":
        return to_number(v)
    if kind == "bool":
        return to_bool(v)
    if kind in ("list", "set"):
        if not isinstance(v, list):
            raise ConversionError(f"{kind} of {type_name(t[1])} required")
        out = []
        for i, item in enumerate(v):
            try:
                out.append(convert(item, t[1]))
            except ConversionError as exc:
                raise ConversionError(f"element {i}: {exc}") from None
        if kind == "set":
            unique: list[Any] = []
            for item in out:
                if item not in unique:
                    unique.append(item)
            out = unique
        return out
    if kind == "map":
        if not isinstance(v, dict):
            raise ConversionError(f"map of {type_name(t[1])} required")
        res: dict[str, Any] = {}
        for k in sorted(v):
            try:
                res[k] = convert(v[k], t[1])
            except ConversionError as exc:
                raise ConversionError(f"element {k!r}: {exc}") from None
        return res
    if kind == "object":
        if not isinstance(v, dict):
            raise ConversionError("object required")
        attrs: dict[str, Type] = t[1]
        for k in attrs:
            if k not in v:
                raise ConversionError(f'attribute "{k}" is required')
        obj: dict[str, Any] = {}
        for k in sorted(attrs):
            try:
                obj[k] = convert(v[k], attrs[k])
            except ConversionError as exc:
                raise ConversionError(f'attribute "{k}": {exc}') from None
        return obj
    if kind == "tuple":
        elems: list[Type] = t[1]
        if not isinstance(v, list) or len(v) != len(elems):
            raise ConversionError(f"tuple required with {len(elems)} elements")
        return [convert(item, et) for item, et in zip(v, elems, strict=True)]
    raise ConversionError(f"unsupported type {kind}")
