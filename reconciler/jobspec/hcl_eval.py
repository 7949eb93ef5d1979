"""Evaluation of HCL2 expressions (the AST of ``hcl_syntax``) to plain values.

Covers what Nomad's jobspec uses: ``var.*``/``local.*`` and iterator
references, index and attribute access, splats, arithmetic, comparison and
logic operators, conditionals, ``for`` expressions (with ``if`` filters and
``...`` grouping), templates with ``%{if}``/``%{for}`` directives, and function
calls (``try``/``can`` evaluate their arguments lazily).

Nomad's rule for references to names it does not know (``attr``, ``node``,
``meta``, ``NOMAD_*``, ``PATH``...): they are runtime interpolations and stay
literal, ``"${attr.kernel.name}"``, copied from the file the way Nomad copies
them (``hcl_syntax.runtime_reference_text``).  Only ``var`` and ``local`` are checked.

Pure: no I/O except through the functions the caller passes in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import JobEvaluationError
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.hcl_types import ConversionError, to_bool, to_number, to_string


class FunctionError(Exception):
    """Raised by a function implementation; the evaluator adds the call site."""


class ArityError(FunctionError):
    """Too few or too many arguments; ``summary`` is HCL's diagnostic summary."""

    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(detail)
        self.summary = summary


class ArgumentError(FunctionError):
    """Raised for a bad argument; ``index`` says which one (for the position)."""

    def __init__(self, message: str, index: int = 0) -> None:
        super().__init__(message)
        self.index = index


Function = Callable[[list[Any]], Any]

_CHECKED_ROOTS = frozenset({"var", "local"})


class Evaluator:
    """Evaluates expressions of one file; ``functions`` maps names to implementations."""

    def __init__(
        self,
        *,
        path: str,
        functions: Mapping[str, Function],
        lazy_functions: Mapping[str, Callable[[Evaluator, ast.Call, Mapping[str, Any]], Any]]
        | None = None,
    ) -> None:
        self.path = path
        self.functions = functions
        self.lazy_functions = dict(lazy_functions or {})

    def error(self, reason: str, where: ast.Expr | ast.Pos) -> JobEvaluationError:
        pos = where if isinstance(where, ast.Pos) else where.pos
        return JobEvaluationError(reason, path=self.path, line=pos.line, column=pos.column)

    # ------------------------------------------------------------------ entry
    def eval(self, expr: ast.Expr, scope: Mapping[str, Any]) -> Any:
        method = getattr(self, "_e_" + type(expr).__name__)
        return method(expr, scope)

    # ---------------------------------------------------------------- leaves
    def _e_Literal(self, e: ast.Literal, scope: Mapping[str, Any]) -> Any:
        return e.value

    def _e_Parens(self, e: ast.Parens, scope: Mapping[str, Any]) -> Any:
        return self.eval(e.inner, scope)

    def _e_Variable(self, e: ast.Variable, scope: Mapping[str, Any]) -> Any:
        if e.name in scope:
            return scope[e.name]
        if e.name in _CHECKED_ROOTS:
            raise self.error(f'Variables not allowed; The "{e.name}" object is not available here.', e)
        return e.runtime_text if e.runtime_text is not None else "${" + e.name + "}"

    def _static_traversal(self, e: ast.Expr) -> str | None:
        """Source text of a traversal ``a.b[0]`` rooted at an unknown name, else None."""
        steps: list[str] = []
        node = e
        while True:
            if isinstance(node, ast.GetAttr):
                steps.append("." + node.name)
                node = node.obj
            elif isinstance(node, ast.Index) and isinstance(node.key, ast.Literal):
                k = node.key.value
                steps.append(f"[{k}]" if isinstance(k, int) else f'["{k}"]')
                node = node.obj
            elif isinstance(node, ast.Index) and isinstance(node.key, ast.Template) and node.key.is_literal:
                steps.append('["' + "".join(node.key.parts) + '"]')
                node = node.obj
            elif isinstance(node, ast.Variable):
                return node.name + "".join(reversed(steps))
            else:
                return None

    def _root_is_unknown(self, e: ast.Expr, scope: Mapping[str, Any]) -> bool:
        node = e
        while isinstance(node, (ast.GetAttr, ast.Index)):
            node = node.obj
        return isinstance(node, ast.Variable) and node.name not in scope and node.name not in _CHECKED_ROOTS

    def _e_GetAttr(self, e: ast.GetAttr, scope: Mapping[str, Any]) -> Any:
        if self._root_is_unknown(e, scope):
            text = self._static_traversal(e)
            if text is not None:
                return e.runtime_text if e.runtime_text is not None else "${" + text + "}"
        obj = self.eval(e.obj, scope)
        return self.get_attr(obj, e.name, e)

    def get_attr(self, obj: Any, name: str, e: ast.GetAttr) -> Any:
        where = e.step or e.pos  # HCL points at the `.name` step itself
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
            raise self.error(
                f'Unsupported attribute; This object does not have an attribute named "{name}".', where
            )
        if obj is None:
            raise self.error("Attempt to get attribute from null value; This value is null, so it does not have any attributes.", where)
        raise self.error(
            f"Unsupported attribute; Can't access attributes on a {_type_word(obj)}.", where
        )

    def _e_Index(self, e: ast.Index, scope: Mapping[str, Any]) -> Any:
        if self._root_is_unknown(e, scope):
            text = self._static_traversal(e)
            if text is not None:
                return e.runtime_text if e.runtime_text is not None else "${" + text + "}"
        obj = self.eval(e.obj, scope)
        key = self.eval(e.key, scope)
        return self.index(obj, key, e)

    def index(self, obj: Any, key: Any, e: ast.Index) -> Any:
        where = e.step or e.pos
        if isinstance(obj, list):
            try:
                k = to_number(key)
            except ConversionError:
                raise self.error("Invalid index; The given key does not identify an element in this collection value: a number is required.", where) from None
            if not float(k).is_integer() or not 0 <= int(k) < len(obj):
                raise self.error("Invalid index; The given key does not identify an element in this collection value.", where)
            return obj[int(k)]
        if isinstance(obj, dict):
            try:
                k2 = to_string(key)
            except ConversionError:
                raise self.error("Invalid index; The given key does not identify an element in this collection value: string required.", where) from None
            if k2 not in obj:
                raise self.error("Invalid index; The given key does not identify an element in this collection value.", where)
            return obj[k2]
        if obj is None:
            raise self.error("Attempt to index null value; This value is null, so it does not have any indices.", where)
        raise self.error(f"Invalid index; This value does not have any indices ({_type_word(obj)}).", where)

    def _e_SplatItem(self, e: ast.SplatItem, scope: Mapping[str, Any]) -> Any:
        return scope["\0splat"]

    def _e_Splat(self, e: ast.Splat, scope: Mapping[str, Any]) -> Any:
        source = self.eval(e.source, scope)
        if source is None:
            return []
        items = source if isinstance(source, list) else [source]
        if isinstance(source, dict) and not e.full:
            items = [source]
        out = []
        for item in items:
            out.append(self.eval(e.each, {**scope, "\0splat": item}))
        return out

    # ------------------------------------------------------------ collections
    def _e_TupleExpr(self, e: ast.TupleExpr, scope: Mapping[str, Any]) -> Any:
        return [self.eval(i, scope) for i in e.items]

    def _e_ObjectExpr(self, e: ast.ObjectExpr, scope: Mapping[str, Any]) -> Any:
        out: dict[str, Any] = {}
        for k, v in e.items:
            key = self.eval(k, scope)
            if key is None:
                raise self.error("Invalid object key; Key expression in object constructor must not be null.", k)
            try:
                out[to_string(key)] = self.eval(v, scope)
            except ConversionError:
                raise self.error("Incorrect key type; Can't use this value as a key: string required.", k) from None
        return out

    # ------------------------------------------------------------- operators
    def _e_Unary(self, e: ast.Unary, scope: Mapping[str, Any]) -> Any:
        v = self.eval(e.operand, scope)
        try:
            if e.op == "!":
                return not to_bool(v)
            return _norm(-to_number(v))
        except ConversionError as exc:
            raise self.error(f"Invalid operand; Unsuitable value for unary operand: {exc}.", e.operand) from None

    def _e_Binary(self, e: ast.Binary, scope: Mapping[str, Any]) -> Any:
        op = e.op
        if op in ("&&", "||"):
            left = self._operand(e.left, scope, to_bool, "left")
            right = self._operand(e.right, scope, to_bool, "right")
            return (left and right) if op == "&&" else (left or right)
        if op in ("==", "!="):
            lv, rv = self.eval(e.left, scope), self.eval(e.right, scope)
            same = values_equal(lv, rv)
            return same if op == "==" else not same
        a = self._operand(e.left, scope, to_number, "left")
        b = self._operand(e.right, scope, to_number, "right")
        if op == "+":
            return _norm(a + b)
        if op == "-":
            return _norm(a - b)
        if op == "*":
            return _norm(a * b)
        if op == "/":
            if b == 0:
                raise self.error("Error in function call; Division by zero.", e)
            return _norm(a / b)
        if op == "%":
            if b == 0:
                raise self.error("Error in function call; Division by zero.", e)
            return _norm(math.fmod(a, b)) if isinstance(a, float) or isinstance(b, float) else int(math.fmod(a, b))
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        if op == ">=":
            return a >= b
        raise self.error(f"Invalid operator {op!r}.", e)

    def _operand(self, expr: ast.Expr, scope: Mapping[str, Any], conv: Callable[[Any], Any], side: str) -> Any:
        v = self.eval(expr, scope)
        try:
            return conv(v)
        except ConversionError as exc:
            if v is None:
                raise self.error(f"Invalid operand; Unsuitable value for {side} operand: argument must not be null.", expr) from None
            raise self.error(f"Invalid operand; Unsuitable value for {side} operand: {exc}.", expr) from None

    def _e_Conditional(self, e: ast.Conditional, scope: Mapping[str, Any]) -> Any:
        c = self.eval(e.cond, scope)
        if c is None:
            raise self.error("Null condition; The condition value is null. Conditions must either be true or false.", e.cond)
        try:
            cond = to_bool(c)
        except ConversionError:
            raise self.error("Incorrect condition type; The condition expression must be of type bool.", e.cond) from None
        return self.eval(e.true if cond else e.false, scope)

    # ---------------------------------------------------------- for / templates
    def iterate(self, coll: Any, where: ast.Expr) -> list[tuple[Any, Any]]:
        """(key, value) pairs in HCL order: list index order, map keys sorted."""
        if isinstance(coll, list):
            return list(enumerate(coll))
        if isinstance(coll, dict):
            return [(k, coll[k]) for k in sorted(coll)]
        if coll is None:
            raise self.error("Iteration over null value; A null value cannot be used as the collection in a 'for' expression.", where)
        raise self.error(f"Iteration over non-iterable value; A value of type {_type_word(coll)} cannot be used as the collection in a 'for' expression.", where)

    def _e_ForExpr(self, e: ast.ForExpr, scope: Mapping[str, Any]) -> Any:
        coll = self.eval(e.collection, scope)
        pairs = self.iterate(coll, e.collection)
        if e.key is None:
            out_list: list[Any] = []
            for k, v in pairs:
                inner = self._bind(scope, e.key_var, e.value_var, k, v)
                if e.cond is not None and not self._cond(e.cond, inner):
                    continue
                out_list.append(self.eval(e.value, inner))
            return out_list
        out: dict[str, Any] = {}
        for k, v in pairs:
            inner = self._bind(scope, e.key_var, e.value_var, k, v)
            if e.cond is not None and not self._cond(e.cond, inner):
                continue
            key = self.eval(e.key, inner)
            try:
                key_s = to_string(key)
            except ConversionError:
                raise self.error("Invalid object key; Key expression in 'for' expression must be a string.", e.key) from None
            val = self.eval(e.value, inner)
            if e.group:
                out.setdefault(key_s, []).append(val)
            else:
                if key_s in out:
                    raise self.error(
                        f'Duplicate object key; Two different items produced the key "{key_s}" in this \'for\' expression. '
                        "If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.",
                        e.key,
                    )
                out[key_s] = val
        return {k: out[k] for k in sorted(out)}

    def _cond(self, expr: ast.Expr, scope: Mapping[str, Any]) -> bool:
        v = self.eval(expr, scope)
        try:
            return to_bool(v)
        except ConversionError:
            raise self.error("Invalid 'for' condition; The 'if' clause value is invalid: bool required.", expr) from None

    @staticmethod
    def _bind(scope: Mapping[str, Any], key_var: str | None, value_var: str, k: Any, v: Any) -> dict[str, Any]:
        inner = dict(scope)
        if key_var is not None:
            inner[key_var] = k
        inner[value_var] = v
        return inner

    def _e_Template(self, e: ast.Template, scope: Mapping[str, Any]) -> Any:
        single = e.single_interp
        if single is not None:
            return self.eval(single, scope)  # "${x}" keeps x's type
        return self._render(e.parts, scope)

    def _render(self, parts: tuple[Any, ...], scope: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, ast.Interp):
                v = self.eval(part.expr, scope)
                if v is None:
                    raise self.error("Invalid template interpolation value; The expression result is null. Cannot include a null value in a string template.", part)
                try:
                    out.append(to_string(v))
                except ConversionError:
                    raise self.error("Invalid template interpolation value; Cannot include the given value in a string template: string required.", part) from None
            elif isinstance(part, ast.TemplateIf):
                c = self.eval(part.cond, scope)
                try:
                    cond = to_bool(c)
                except ConversionError:
                    raise self.error("Invalid template if condition; The condition value must be a boolean.", part.cond) from None
                out.append(self._render(part.then if cond else part.otherwise, scope))
            elif isinstance(part, ast.TemplateFor):
                coll = self.eval(part.collection, scope)
                for k, v in self.iterate(coll, part.collection):
                    out.append(self._render(part.body, self._bind(scope, part.key_var, part.value_var, k, v)))
        return "".join(out)

    def _e_Interp(self, e: ast.Interp, scope: Mapping[str, Any]) -> Any:
        return self.eval(e.expr, scope)

    # ------------------------------------------------------------- functions
    def _e_Call(self, e: ast.Call, scope: Mapping[str, Any]) -> Any:
        lazy = self.lazy_functions.get(e.name)
        if lazy is not None:
            return lazy(self, e, scope)
        fn = self.functions.get(e.name)
        if fn is None:
            raise self.error(f'Call to unknown function; There is no function named "{e.name}".', e)
        args = [self.eval(a, scope) for a in e.args]
        if e.expand_final:
            if not args or not isinstance(args[-1], list):
                raise self.error("Invalid expanding argument value; The expanding argument (indicated by ...) must be of a tuple, list, or set type.", e.args[-1] if e.args else e)
            args = args[:-1] + list(args[-1])
        try:
            return fn(args)
        except ArityError as exc:
            raise self.error(f"{exc.summary}; {exc}.", e) from None
        except ArgumentError as exc:
            where = e.args[exc.index] if exc.index < len(e.args) else e
            raise self.error(f'Invalid function argument; Invalid value for "{_arg_name(fn, exc.index)}" parameter: {exc}.', where) from None
        except FunctionError as exc:
            raise self.error(f'Error in function call; Call to function "{e.name}" failed: {exc}.', e) from None
        except ConversionError as exc:
            raise self.error(f'Invalid function argument; Invalid value for function "{e.name}": {exc}.', e) from None
        except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
            # A Python-level failure on strange input is still this call's error, never a crash.
            raise self.error(f'Error in function call; Call to function "{e.name}" failed: {exc}.', e) from None


def _arg_name(fn: Function, index: int) -> str:
    names: tuple[str, ...] = getattr(fn, "param_names", ())
    if index < len(names):
        return names[index]
    return names[-1] if names else "argument"


def _norm(v: int | float) -> int | float:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return int(v)
    return v


def _type_word(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "tuple"
    if isinstance(v, dict):
        return "object"
    return "null"


def values_equal(a: Any, b: Any) -> bool:
    """cty equality: no conversion between types (``1 != "1"``, ``true != 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
