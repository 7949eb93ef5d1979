"""Input variables of an HCL2 job file: declarations, outside values, validation.

Declarations are ``variable "name" { type, default, description, validation }``
blocks and ``variables { name = default }`` blocks.  Values from outside come
from ``NOMAD_VAR_<name>`` (undeclared ones ignored), ``-var-file`` files (HCL
or JSON, in order) and ``-var name=value`` flags (undeclared ones are errors);
the last one set wins, so the precedence is ``-var`` > var file > environment
> default.  Values for string, number, bool and untyped variables are taken
literally; other types are parsed as HCL expressions, as Nomad does.

Pure apart from reading the var files named in ``VariableInputs.files``.
Errors are ``JobEvaluationError``/``JobSyntaxError`` with Nomad's wording.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import JobEvaluationError, JobSpecError, JobSyntaxError
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.hcl_eval import Evaluator
from reconciler.jobspec.hcl_types import (
    ConversionError,
    Type,
    convert,
    infer_type,
    parse_type,
    to_bool,
)

ENV_PREFIX = "NOMAD_VAR_"


@dataclass(frozen=True)
class VariableInputs:
    """Variable values supplied from outside the job file, as the Nomad CLI takes them."""

    cli: tuple[str, ...] = ()  # raw "-var" values "k=v"
    files: tuple[str, ...] = ()  # -var-file paths (.hcl or .json)
    env: Mapping[str, str] = field(default_factory=dict)  # only NOMAD_VAR_* are used


@dataclass(frozen=True)
class Validation:
    condition: ast.Expr
    error_message: str
    pos: ast.Pos


@dataclass(frozen=True)
class VariableDecl:
    name: str
    pos: ast.Pos
    type: Type | None = None
    default: Any = None
    has_default: bool = False
    default_pos: ast.Pos | None = None
    description: str = ""
    validations: tuple[Validation, ...] = ()


_VARIABLE_ARGS = ("type", "default", "description")


def parse_declarations(body: ast.Body, ev: Evaluator) -> dict[str, VariableDecl]:
    """Collect ``variable`` and ``variables`` blocks of a job file's top level."""
    decls: dict[str, VariableDecl] = {}
    path = ev.path
    for block in body.blocks:
        if block.type == "variables":
            if block.labels:
                raise _syntax(path, block.pos, 'Extraneous label for variables; No labels are expected for variables blocks.')
            for blk in block.body.blocks:
                raise _syntax(path, blk.pos, f'Unsupported block type; Blocks of type "{blk.type}" are not expected here.')
            for attr in block.body.attributes:
                _check_new(decls, attr.name, attr.pos, path)
                value = ev.eval(attr.expr, {})
                decls[attr.name] = VariableDecl(attr.name, attr.pos, infer_type(value), value, True, attr.expr.pos)
        elif block.type == "variable":
            if len(block.labels) != 1:
                raise _syntax(path, block.pos, 'Missing name for variable; All variable blocks must have 1 labels (name).')
            decls_entry = _parse_variable_block(block, ev)
            _check_new(decls, decls_entry.name, block.pos, path)
            decls[decls_entry.name] = decls_entry
    return decls


def _check_new(decls: Mapping[str, VariableDecl], name: str, pos: ast.Pos, path: str) -> None:
    if name in decls:
        prev = decls[name].pos
        raise _syntax(
            path, pos,
            f'Duplicate variable; Duplicate {name} variable definition found. '
            f'The variable was already defined at {path}:{prev.line},{prev.column}.',
        )


def _parse_variable_block(block: ast.Block, ev: Evaluator) -> VariableDecl:
    path = ev.path
    name = block.labels[0]
    if not name.replace("_", "a").replace("-", "a").isalnum() or name[0].isdigit():
        raise _syntax(path, block.label_pos[0] if block.label_pos else block.pos,
                      "Invalid variable name; Name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes.")
    attrs = {a.name: a for a in block.body.attributes}
    for a in block.body.attributes:
        if a.name not in _VARIABLE_ARGS:
            raise _syntax(path, a.pos, f'Unsupported argument; An argument named "{a.name}" is not expected here.')
    vtype: Type | None = None
    if "type" in attrs:
        try:
            vtype = parse_type(attrs["type"].expr)
        except ConversionError as exc:
            raise _eval(path, attrs["type"].expr.pos, str(exc)) from None
    description = ""
    if "description" in attrs:
        description = str(ev.eval(attrs["description"].expr, {}))
    default: Any = None
    has_default = "default" in attrs
    default_pos = None
    if has_default:
        default_pos = attrs["default"].expr.pos
        default = ev.eval(attrs["default"].expr, {})
        if vtype is not None:
            try:
                default = convert(default, vtype)
            except ConversionError as exc:
                raise _eval(path, default_pos, f"Invalid default value for variable; This default value is not compatible with the variable's type constraint: {exc}.") from None
    validations: list[Validation] = []
    for blk in block.body.blocks:
        if blk.type != "validation":
            raise _syntax(path, blk.pos, f'Unsupported block type; Blocks of type "{blk.type}" are not expected here.')
        vattrs = {a.name: a for a in blk.body.attributes}
        for a in blk.body.attributes:
            if a.name not in ("condition", "error_message"):
                raise _syntax(path, a.pos, f'Unsupported argument; An argument named "{a.name}" is not expected here.')
        for required in ("condition", "error_message"):
            if required not in vattrs:
                raise _syntax(path, blk.pos, f'Missing required argument; The argument "{required}" is required, but no definition was found.')
        msg = ev.eval(vattrs["error_message"].expr, {})
        if not isinstance(msg, str) or not _looks_like_sentences(msg):
            raise _eval(
                path, vattrs["error_message"].expr.pos,
                "Invalid validation error message; Validation error message must be at least one full English "
                "sentence starting with an uppercase letter and ending with a period or question mark.",
            )
        _check_self_reference(vattrs["condition"].expr, name, path)
        validations.append(Validation(vattrs["condition"].expr, msg, blk.pos))
    if vtype is None and has_default:
        vtype = infer_type(default)  # untyped: the default's type constrains outside values
    return VariableDecl(name, block.pos, vtype, default, has_default, default_pos, description, tuple(validations))


def _looks_like_sentences(text: str) -> bool:
    """Nomad 1.0 (like Terraform then) wants a sentence: capitalised, ending in . ? or !."""
    text = text.strip()
    if not text:
        return False
    if text[0].isalpha() and not text[0].isupper():
        return False
    return text[-1] in ".?!"


def _check_self_reference(expr: ast.Expr, name: str, path: str) -> None:
    refs_self = any(
        isinstance(n, ast.GetAttr) and isinstance(n.obj, ast.Variable) and n.obj.name == "var" and n.name == name
        for n in ast.iter_nodes(expr)
    )
    if not refs_self:
        raise _eval(path, expr.pos, f'Invalid variable validation condition; The condition for variable "{name}" must refer to var.{name} in order to test incoming values.')
    for node in ast.iter_nodes(expr):
        if isinstance(node, ast.GetAttr) and isinstance(node.obj, ast.Variable) and node.obj.name == "var" and node.name != name:
            raise _eval(path, node.pos, f"Invalid reference in variable validation; The condition for variable \"{name}\" can only refer to the variable itself, using var.{name}.")


def resolve_variables(
    decls: Mapping[str, VariableDecl], inputs: VariableInputs, ev: Evaluator
) -> dict[str, Any]:
    """Final value of every declared variable, validated; a variable without one is an error."""
    path = ev.path
    # name -> the last assignment; source uses Nomad's words: env, varfile, cmd
    values: dict[str, _Assignment] = {}

    for key, raw in inputs.env.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX):]
            if name in decls:  # undeclared NOMAD_VAR_ are silently ignored
                decl = decls[name]
                value = _convert_input(decl, _raw_value(decl, raw, "env", path), path=path, summary="Invalid value for variable", what=f"The value for {name}")
                values[name] = _Assignment(value, "env", path, None)

    for var_file in inputs.files:
        for name, (value, pos) in _read_var_file(var_file, decls).items():
            converted = _convert_input(decls[name], value, path=var_file, pos=pos, summary="Invalid value for variable", what=f"The value for {name}")
            values[name] = _Assignment(converted, "varfile", var_file, pos)

    for item in inputs.cli:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise JobEvaluationError(f'Invalid -var option; The given -var option "{item}" is not correctly specified. It must be a variable name and value separated an equals sign, like -var="key=value".', path=path)
        if name not in decls:
            raise JobEvaluationError(
                f'Undefined -var variable; A "{name}" variable was passed in the command line but was not found in known variables. '
                f'To declare variable "{name}", place this block in your job file',
                path=path,
            )
        decl = decls[name]
        value = _convert_input(decl, _raw_value(decl, raw, "cmd", path), path=path, summary="Invalid argument value for -var variable", what=f"The received arg value for {name}")
        values[name] = _Assignment(value, "cmd", path, None)

    final: dict[str, Any] = {}
    for name, decl in decls.items():
        if name in values:
            assigned = values[name]
            if assigned.value is None:
                raise JobEvaluationError(f"Invalid value for variable; The value for {name} must not be null.", path=assigned.path, line=assigned.pos.line if assigned.pos else None, column=assigned.pos.column if assigned.pos else None)
            _validate(decl, assigned, ev)
            final[name] = assigned.value
        elif decl.has_default:
            _validate(decl, _Assignment(decl.default, "default", path, decl.default_pos), ev)
            final[name] = decl.default
        else:
            # Nomad reports every declared variable left without a value, used or not.
            raise JobEvaluationError(
                f'Unset variable "{name}"; A used variable must be set or have a default value; see '
                "https://www.nomadproject.io/docs/job-specification/hcl2/variables for details.",
                path=path, line=decl.pos.line, column=decl.pos.column,
            )
    return final


@dataclass(frozen=True)
class _Assignment:
    value: Any
    source: str  # default, env, varfile or cmd: the word Nomad's messages use
    path: str
    pos: ast.Pos | None


def _convert_input(decl: VariableDecl, value: Any, *, path: str, summary: str, what: str, pos: ast.Pos | None = None) -> Any:
    if decl.type is None:
        return value
    try:
        return convert(value, decl.type)
    except ConversionError as exc:
        raise JobEvaluationError(
            f"{summary}; {what} is not compatible with the variable's type constraint: {exc}.",
            path=path, line=pos.line if pos else None, column=pos.column if pos else None,
        ) from None


def _raw_value(decl: VariableDecl, raw: str, source: str, path: str) -> Any:
    """A string from the environment or a flag: literal for string, number and untyped
    variables, an HCL expression for every other type (bool and ``any`` included), as in Nomad."""
    if decl.type is None or decl.type[0] in ("string", "number"):
        return raw
    origin = "env" if source == "env" else "arguments"
    try:
        expr = ast.parse_expression(raw, path=f"<value for var.{decl.name} from {origin}>")
    except JobSyntaxError as exc:
        raise JobEvaluationError(
            f"Invalid value for {'-var' if source == 'cmd' else 'env'} variable {decl.name}; {exc.reason}", path=path
        ) from None
    from reconciler.jobspec.hcl_functions import build_evaluator

    try:
        return build_evaluator(path=path, allow_fs=False).eval(expr, {})
    except JobSpecError as exc:
        raise JobEvaluationError(f"Invalid value for variable {decl.name}; {exc.reason}", path=path) from None


def _read_var_file(var_file: str, decls: Mapping[str, VariableDecl]) -> dict[str, tuple[Any, ast.Pos | None]]:
    try:
        with open(var_file, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise JobEvaluationError(f"Failed to read variables file; {exc.strerror}.", path=var_file) from exc
    values: dict[str, tuple[Any, ast.Pos | None]] = {}
    if var_file.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobSyntaxError(f"Invalid JSON; {exc.msg}.", path=var_file, line=exc.lineno, column=exc.colno) from None
        if not isinstance(data, dict):
            raise JobSyntaxError("Invalid variables file; The root of a JSON variables file must be an object.", path=var_file, line=1, column=1)
        for name, value in data.items():
            _check_declared(name, decls, var_file, None)
            values[name] = (_from_json(value), None)
        return values
    from reconciler.jobspec.hcl_functions import build_evaluator

    body = ast.parse_body(text, path=var_file)
    for blk in body.blocks:
        if blk.type == "variable":
            raise JobSyntaxError(
                "Variable declaration in a .var file; Variables are declared in the job file, not in a variables file.",
                path=var_file, line=blk.pos.line, column=blk.pos.column,
            )
        raise JobSyntaxError(f'Unsupported block type; Blocks of type "{blk.type}" are not expected here.', path=var_file, line=blk.pos.line, column=blk.pos.column)
    ev = build_evaluator(path=var_file, allow_fs=False)
    for attr in body.attributes:
        _check_declared(attr.name, decls, var_file, attr.pos)
        values[attr.name] = (ev.eval(attr.expr, {}), attr.expr.pos)
    return values


def _from_json(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [_from_json(i) for i in v]
    if isinstance(v, dict):
        return {k: _from_json(v[k]) for k in sorted(v)}
    return v


def _check_declared(name: str, decls: Mapping[str, VariableDecl], var_file: str, pos: ast.Pos | None) -> None:
    if name not in decls:
        raise JobEvaluationError(
            f'Undefined variable; A "{name}" variable was set but was not found in known variables. '
            f'To declare variable "{name}", place this block in your job file',
            path=var_file,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
        )


def _validate(decl: VariableDecl, assigned: _Assignment, ev: Evaluator) -> None:
    path = ev.path
    for rule in decl.validations:
        try:
            ok = ev.eval(rule.condition, {"var": {decl.name: assigned.value}})
            passed = to_bool(ok)
        except ConversionError:
            raise _eval(path, rule.condition.pos, "Invalid variable validation result; Invalid validation condition result value: a bool is required.") from None
        if passed:
            continue
        reason = (
            f"Invalid value for {assigned.source} variable; {rule.error_message}\n\n"
            f"This was checked by the validation rule at {path}:{rule.pos.line},{rule.pos.column}."
        )
        # Nomad points at the value's expression: the default, a var-file line, or
        # nowhere for -var and environment values.
        pos = assigned.pos
        raise JobEvaluationError(reason, path=assigned.path, line=pos.line if pos else None, column=pos.column if pos else None)


def _syntax(path: str, pos: ast.Pos, reason: str) -> JobSyntaxError:
    return JobSyntaxError(reason, path=path, line=pos.line, column=pos.column)


def _eval(path: str, pos: ast.Pos, reason: str) -> JobEvaluationError:
    return JobEvaluationError(reason, path=path, line=pos.line, column=pos.column)
