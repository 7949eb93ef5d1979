"""HCL2 job file → the Nomad API job JSON that ``nomad job run -output`` prints.

``convert_hcl`` is the entry point: parse (``hcl_syntax``), resolve variables
(``variables``) and locals, expand ``dynamic`` blocks, and decode the ``job``
block against the schema (``hcl_schema``) with Nomad 1.0's jobspec rules:
labelled blocks fill Name/Label fields, durations become nanoseconds, static
ports go to ReservedPorts, a task directly under ``job`` becomes its own group
placed first, a job-level ``vault`` is copied into tasks without one, the
parser defaults of ``template``/``vault``/``periodic``/``scaling`` are filled,
driver ``config`` is passed through with nested blocks as lists of maps, and
``meta``/``env`` values are stringified.

``nomad_version`` picks the job specification: ``None`` reads every block and
argument the schema knows (Nomad 1.0's and the later ones it lists, see
``hcl_schema``); a release refuses what that release's ``nomad job run`` does
not know, with HCL's own words.  Reading the newest by default lets one checkout
serve clusters of several releases: the cluster's version (``later_fields``)
or ``--nomad-version`` then says what a given release cannot take.

Pure apart from reading var files and the filesystem functions (both can be
turned off).  Every bad input raises a ``JobSpecError`` naming file, line,
column and reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from reconciler.errors import JobEvaluationError, JobSyntaxError
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.jobspec.hcl_eval import Evaluator
from reconciler.jobspec.hcl_functions import build_evaluator
from reconciler.jobspec.hcl_schema import STRUCTS, Attr, Fixed, Nested, Struct, Version
from reconciler.jobspec.hcl_types import ConversionError, to_bool, to_number, to_string
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.jobspec.variables import (
    VariableInputs,
    parse_declarations,
    resolve_variables,
)

Scope = Mapping[str, Any]
_TOP_LEVEL = ("variable", "variables", "locals", "job")
_MAP_KINDS = ("string_map", "string_list_map", "opaque")


def convert_hcl(
    text: str,
    *,
    path: str = "input.hcl",
    inputs: VariableInputs = VariableInputs(),  # noqa: B008 - frozen value
    allow_fs: bool = True,
    base_dir: str | None = None,
    fs_root: str | None = None,
    read_limit: int = DEFAULT_MAX_FILE_SIZE,
    nomad_version: Version | None = None,
) -> dict[str, Any]:
    """The API job (the object inside ``{"Job": ...}``) an HCL2 job file describes.

    ``fs_root``, when given, confines filesystem functions (``file()``...) to that tree;
    ``read_limit`` bounds the size of each file they read; ``nomad_version``: the
    release whose job specification is read (``None``: the newest modelled).
    """
    try:
        return _convert(
            text, path=path, inputs=inputs, allow_fs=allow_fs, base_dir=base_dir,
            fs_root=fs_root, read_limit=read_limit, version=nomad_version,
        )  # fmt: skip
    except RecursionError:
        # Only pathological nesting gets here; it is still this file's error, not a crash.
        raise JobSyntaxError("Nesting too deep; The file nests expressions or blocks too deeply to process.", path=path) from None


def _convert(
    text: str, *, path: str, inputs: VariableInputs, allow_fs: bool, base_dir: str | None,
    fs_root: str | None, read_limit: int, version: Version | None,
) -> dict[str, Any]:
    if text.lstrip(" ").startswith("{"):
        # Nomad would read this as HCL's JSON syntax; this converter reads native syntax only.
        raise JobSyntaxError(
            "Unsupported HCL JSON syntax; This file starts with \"{\", which Nomad reads as HCL's JSON "
            "syntax. nomad-reconciler reads HCL native syntax (.nomad/.hcl) and API JSON jobs (.json).",
            path=path, line=1, column=1,
        )
    body = ast.parse_body(text, path=path)
    ev = build_evaluator(
        path=path,
        base_dir=base_dir if base_dir is not None else os.path.dirname(path) or ".",
        allow_fs=allow_fs,
        fs_root=fs_root,
        read_limit=read_limit,
    )
    for attr in body.attributes:
        raise JobSyntaxError(
            unsupported_argument(attr.name, (), _TOP_LEVEL),
            path=path, line=attr.pos.line, column=attr.pos.column,
        )
    jobs: list[ast.Block] = []
    for block in body.blocks:
        if block.type not in _TOP_LEVEL:
            raise _syntax_error(path, block.pos, unsupported_block(block.type, _TOP_LEVEL, ()))
        if block.type == "job":
            if jobs:
                raise _syntax_error(path, block.pos, f'Duplicate job block; Only one block of type "job" is allowed. Previous definition was at {path}:{jobs[0].pos.line},{jobs[0].pos.column}.')
            jobs.append(block)
    if not jobs:
        raise JobSyntaxError("Missing job block; A job block is required.", path=path, line=1, column=1)

    decls = parse_declarations(body, ev)
    var_values = resolve_variables(decls, inputs, ev)
    local_values = _evaluate_locals(body, ev, var_values)
    scope: dict[str, Any] = {"var": var_values, "local": local_values}
    return _Decoder(ev, version).job(jobs[0], scope)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute: 1 each), over characters."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def name_suggestion(given: str, candidates: Sequence[str]) -> str:
    """HCL's "Did you mean" pick: the first candidate within edit distance 2, else "".

    (hcl/v2 didyoumean.go ``nameSuggestion``, as vendored by Nomad v1.0.18.)
    """
    return next((c for c in candidates if levenshtein(given, c) < 3), "")


def unsupported_argument(name: str, attributes: Sequence[str], blocks: Sequence[str]) -> str:
    """HCL's diagnostic for an unknown argument, with its hint (hclsyntax ``Body.Content``)."""
    hint = name_suggestion(name, attributes)
    if hint:
        hint = f' Did you mean "{hint}"?'
    elif name in blocks:
        hint = f' Did you mean to define a block of type "{name}"?'
    return f'Unsupported argument; An argument named "{name}" is not expected here.{hint}'


def unsupported_block(kind: str, blocks: Sequence[str], attributes: Sequence[str]) -> str:
    """HCL's diagnostic for an unknown block type, with its hint (hclsyntax ``Body.Content``)."""
    hint = name_suggestion(kind, blocks)
    if hint:
        hint = f' Did you mean "{hint}"?'
    elif kind in attributes:
        hint = (f' Did you mean to define argument "{kind}"? If so, use the equals sign to '
                "assign it a value.")  # fmt: skip
    return f'Unsupported block type; Blocks of type "{kind}" are not expected here.{hint}'


def _syntax_error(path: str, pos: ast.Pos, reason: str) -> JobSyntaxError:
    return JobSyntaxError(reason, path=path, line=pos.line, column=pos.column)


def _evaluate_locals(body: ast.Body, ev: Evaluator, var_values: Mapping[str, Any]) -> dict[str, Any]:
    """Locals in dependency order (they may be written in any order); cycles are errors."""
    exprs: dict[str, ast.Attribute] = {}
    for block in body.blocks:
        if block.type != "locals":
            continue
        for blk in block.body.blocks:
            raise _syntax_error(ev.path, blk.pos, f'Unsupported block type; Blocks of type "{blk.type}" are not expected here.')
        for attr in block.body.attributes:
            if attr.name in exprs:
                prev = exprs[attr.name].pos
                raise _syntax_error(ev.path, attr.pos, f"Duplicate value in locals; Duplicate {attr.name} definition found (first at {ev.path}:{prev.line},{prev.column}).")
            exprs[attr.name] = attr
    deps = {
        name: {
            n.name
            for n in ast.iter_nodes(attr.expr)
            if isinstance(n, ast.GetAttr) and isinstance(n.obj, ast.Variable) and n.obj.name == "local" and n.name in exprs
        }
        for name, attr in exprs.items()
    }
    values: dict[str, Any] = {}
    pending = dict(deps)
    while pending:
        ready = [n for n, d in pending.items() if d <= values.keys()]
        if not ready:
            name = sorted(pending)[0]
            pos = exprs[name].pos
            raise JobEvaluationError(f'Cycle in local values; local.{name} depends on itself through {", ".join("local." + d for d in sorted(pending[name]))}.', path=ev.path, line=pos.line, column=pos.column)
        for name in ready:
            values[name] = ev.eval(exprs[name].expr, {"var": var_values, "local": values})
            del pending[name]
    return values


class _Decoder:
    """Decodes block bodies against the schema; one per file."""

    def __init__(self, ev: Evaluator, version: Version | None = None) -> None:
        self.ev = ev
        self.path = ev.path
        self.version = version

    # ------------------------------------------------------------- errors
    def syntax(self, pos: ast.Pos, reason: str) -> JobSyntaxError:
        return JobSyntaxError(reason, path=self.path, line=pos.line, column=pos.column)

    def unsuitable(self, expr: ast.Expr, detail: str) -> JobEvaluationError:
        return self.ev.error(f"Unsuitable value type; Unsuitable value: {detail}", expr)

    # ------------------------------------------------------------- values
    def eval(self, expr: ast.Expr, scope: Scope) -> Any:
        return self.ev.eval(expr, scope)

    def value(self, attr: ast.Attribute, kind: str, scope: Scope, *, nullable: bool = False) -> Any:
        """Decode one argument; ``nullable`` fields (Go pointers, slices, maps) take null as unset,
        the others reject it, as Nomad's decoder (gocty) does."""
        expr = attr.expr
        v = self.eval(expr, scope)
        if v is None:
            if nullable or kind in ("strings", *_MAP_KINDS):
                return None
            raise self.unsuitable(expr, "null value is not allowed")
        try:
            if kind == "string":
                return to_string(v)
            if kind == "int":
                n = to_number(v)
                if not float(n).is_integer():
                    raise self.unsuitable(expr, "a whole number is required")
                return int(n)
            if kind == "float":
                return to_number(v)
            if kind == "bool":
                return to_bool(v)
            if kind == "duration":
                return self.duration(v, expr)
            if kind == "strings":
                if not isinstance(v, list):
                    raise self.unsuitable(expr, "list of string required")
                out = []
                for item in v:
                    if item is None:
                        raise self.unsuitable(expr, "null value is not allowed")
                    out.append(to_string(item))
                return out
            if kind == "string_map":
                return self.string_map(v, expr)
            if kind == "string_list_map":
                if not isinstance(v, dict):
                    raise self.unsuitable(expr, "map of list of string required")
                return {k: self.value(ast.Attribute(k, ast.Literal(expr.pos, v[k]), attr.pos), "strings", scope) for k in sorted(v)}
            if kind == "opaque":
                if not isinstance(v, dict):
                    raise self.unsuitable(expr, "object required")
                return _opaque_value(v)
        except ConversionError as exc:
            raise self.unsuitable(expr, str(exc)) from None
        raise AssertionError(f"unknown kind {kind}")

    def duration(self, v: Any, expr: ast.Expr) -> int:
        if isinstance(v, bool):
            raise self.ev.error("Unsuitable value type; Unsuitable value: expected a string but found bool", expr)
        if isinstance(v, (int, float)):
            return int(v)  # a bare number is nanoseconds
        if isinstance(v, str):
            try:
                return parse_go_duration(v)
            except DurationError as exc:
                raise self.ev.error(f"Unsuitable value type; Unsuitable duration value: {exc}", expr) from None
        kind = "tuple" if isinstance(v, list) else "object"
        raise self.ev.error(f"Unsuitable value type; Unsuitable value: expected a string but found {kind}", expr)

    def string_map(self, v: Any, expr: ast.Expr) -> dict[str, str]:
        if not isinstance(v, dict):
            raise self.unsuitable(expr, "map of string required")
        out: dict[str, str] = {}
        for k in sorted(v):
            if v[k] is None:
                raise self.unsuitable(expr, "null value is not allowed")
            try:
                out[k] = to_string(v[k])
            except ConversionError:
                raise self.unsuitable(expr, f'element "{k}": string required') from None
        return out

    # ------------------------------------------------------------- blocks
    def expand(self, body: ast.Body, scope: Scope) -> Iterator[tuple[ast.Block, Scope]]:
        """The body's blocks with ``dynamic`` blocks expanded, each with its scope."""
        for block in body.blocks:
            if block.type != "dynamic":
                yield block, scope
                continue
            yield from self.expand_dynamic(block, scope)

    def expand_dynamic(self, block: ast.Block, scope: Scope) -> Iterator[tuple[ast.Block, Scope]]:
        if len(block.labels) != 1:
            raise self.syntax(block.pos, "Missing name for dynamic; All dynamic blocks must have 1 labels (name).")
        target = block.labels[0]
        attrs = self.attributes(block.body, ("for_each", "iterator", "labels"))
        contents = [b for b in block.body.blocks if b.type == "content"]
        for b in block.body.blocks:
            if b.type != "content":
                raise self.syntax(b.pos, f'Unsupported block type; Blocks of type "{b.type}" are not expected here.')
        if "for_each" not in attrs:
            raise self.syntax(block.pos, 'Missing required argument; The argument "for_each" is required, but no definition was found.')
        if len(contents) != 1:
            raise self.syntax(block.pos, 'Missing required block; A "content" block is required for a dynamic block.' if not contents else 'Duplicate content block; Only one "content" block is allowed.')
        iterator = target
        if "iterator" in attrs:
            it_expr = attrs["iterator"].expr
            if not isinstance(it_expr, ast.Variable):
                raise self.ev.error("Invalid expression; A single static variable reference is required: only attribute access and indexing with constant keys. No calculations, function calls, template expressions, etc are allowed here.", it_expr)
            iterator = it_expr.name
        for_each = self.ev.eval(attrs["for_each"].expr, scope)
        if for_each is None:
            raise self.ev.error('Invalid dynamic for_each value; Cannot use a null value in for_each.', attrs["for_each"].expr)
        if not isinstance(for_each, (list, dict)):
            raise self.ev.error("Invalid dynamic for_each value; Cannot use a value of this type in for_each. A map, object, set, list or tuple is required.", attrs["for_each"].expr)
        for key, value in self.ev.iterate(for_each, attrs["for_each"].expr):
            inner = {**scope, iterator: {"key": key, "value": value}}
            labels: tuple[str, ...] = ()
            if "labels" in attrs:
                raw = self.ev.eval(attrs["labels"].expr, inner)
                if not isinstance(raw, list):
                    raise self.ev.error("Invalid dynamic block labels; The labels argument must be a list of strings.", attrs["labels"].expr)
                try:
                    labels = tuple(to_string(x) for x in raw)
                except ConversionError:
                    raise self.ev.error("Invalid dynamic block label; Cannot use this value as a dynamic block label: string required.", attrs["labels"].expr) from None
            yield ast.Block(target, labels, contents[0].body, block.pos), inner

    def attributes(
        self, body: ast.Body, allowed: tuple[str, ...] | None, *, blocks_only: tuple[str, ...] = (),
        block_types: tuple[str, ...] = (),
    ) -> dict[str, ast.Attribute]:
        found: dict[str, ast.Attribute] = {}
        present = {a.name for a in body.attributes}
        for attr in body.attributes:
            if attr.name in blocks_only:
                raise self.syntax(attr.pos, unsupported_argument(attr.name, (), (attr.name,)))
            if allowed is not None and attr.name not in allowed:
                # HCL suggests only arguments the body does not set already.
                unset = tuple(a for a in allowed if a not in present)
                raise self.syntax(attr.pos, unsupported_argument(attr.name, unset, block_types))
            if attr.name in found:
                prev = found[attr.name].pos
                raise self.syntax(attr.pos, f'Attribute redefined; The argument "{attr.name}" was already set at {self.path}:{prev.line},{prev.column}. Each argument may be set only once.')
            found[attr.name] = attr
        return found

    def decode(self, struct: Struct, body: ast.Body, scope: Scope, *, label: tuple[str, str] | None = None) -> dict[str, Any]:
        """One block body → an API object with every field of ``struct``, in order."""
        fields = struct.known(self.version)
        attr_specs = struct.attrs_at(self.version)
        block_specs = struct.blocks_at(self.version)
        map_names = {a.hcl for a in fields if isinstance(a, Attr) and a.kind in _MAP_KINDS}
        # Free-form maps are blocks; only job/group/task meta and task env may also be
        # written as an attribute (`meta = {...}`), as in Nomad.
        blocks_only = tuple(n for n in map_names if n is not None and n not in struct.attr_maps)
        attr_names = tuple(n for n in tuple(attr_specs) + struct.extra_attrs if n not in blocks_only)
        block_types = tuple(dict.fromkeys(
            [*block_specs, *(n for n in map_names if n is not None), *struct.extra_blocks]))
        attrs = self.attributes(body, tuple(attr_specs) + struct.extra_attrs, blocks_only=blocks_only,
                                block_types=block_types)  # fmt: skip
        blocks: dict[str, list[tuple[ast.Block, Scope]]] = {}
        for block, bscope in self.expand(body, scope):
            if block.type not in block_specs and block.type not in map_names and block.type not in struct.extra_blocks:
                raise self.syntax(block.pos, unsupported_block(block.type, block_types, attr_names))
            blocks.setdefault(block.type, []).append((block, bscope))

        out: dict[str, Any] = {}
        for f in fields:
            if not struct.added and getattr(f, "since", None) and getattr(f, "hcl", None) not in {*attrs, *blocks}:
                continue  # a later field of a 1.0 struct: printed only when set
            if isinstance(f, Fixed):
                out[f.json] = f.value
            elif isinstance(f, Attr):
                out[f.json] = self.decode_attr(f, attrs, blocks, scope)
            else:
                out[f.json] = self.decode_nested(f, blocks.get(f.hcl, []))
            if f.json in struct.omit_empty and out[f.json] is None:
                del out[f.json]
        if label is not None:
            out[label[0]] = label[1]
        hook = getattr(self, "after_" + struct.name, None)
        if hook is not None:
            hook(out, attrs, blocks, scope)
        return out

    def decode_attr(self, f: Attr, attrs: Mapping[str, ast.Attribute], blocks: Mapping[str, list[tuple[ast.Block, Scope]]], scope: Scope) -> Any:
        assert f.hcl is not None
        attr = attrs.get(f.hcl)
        as_blocks = blocks.get(f.hcl, [])
        if f.kind in _MAP_KINDS and as_blocks:
            if attr is not None:
                where = as_blocks[0][0].pos
                raise self.syntax(where, f"Duplicate {f.hcl} block; {f.hcl} may not be defined more than once. Another definition is defined at {self.path}:{attr.pos.line},{attr.pos.column}.")
            if len(as_blocks) > 1:
                first, where = as_blocks[0][0].pos, as_blocks[1][0].pos
                raise self.syntax(where, f'Duplicate {f.hcl} block; Only one {f.hcl} block is allowed. Another was defined at {self.path}:{first.line},{first.column}.')
            block, bscope = as_blocks[0]
            if block.labels:
                raise self.syntax(block.pos, f"Extraneous label for {f.hcl}; No labels are expected for {f.hcl} blocks.")
            if f.kind == "opaque":
                return self.opaque(block.body, bscope)
            battrs = self.attributes(block.body, None)
            for inner in block.body.blocks:
                raise self.syntax(inner.pos, f'Unsupported block type; Blocks of type "{inner.type}" are not expected here.')
            kind = "string" if f.kind == "string_map" else "strings"
            return {k: self.value(battrs[k], kind, bscope) for k in sorted(battrs)}
        if attr is None:
            return None if f.pointer or f.kind in ("strings", *_MAP_KINDS) else _zero(f.kind)
        return self.value(attr, f.kind, scope, nullable=f.pointer)

    def decode_nested(self, f: Nested, found: list[tuple[ast.Block, Scope]]) -> Any:
        struct = STRUCTS[f.struct]
        if not found:
            return None
        decoded: list[tuple[str | None, dict[str, Any]]] = []
        for block, bscope in found:
            if f.label is not None:
                if len(block.labels) != 1:
                    raise self.syntax(block.pos, f"Missing name for {f.hcl}; All {f.hcl} blocks must have 1 labels (name).")
                decoded.append((block.labels[0], self.decode(struct, block.body, bscope, label=(f.label, block.labels[0]))))
            else:
                if block.labels:
                    raise self.syntax(block.pos, f"Extraneous label for {f.hcl}; No labels are expected for {f.hcl} blocks.")
                decoded.append((None, self.decode(struct, block.body, bscope)))
        if f.mode == "one":
            if len(found) > 1:
                first, second = found[0][0].pos, found[1][0].pos
                raise self.syntax(second, f'Duplicate {f.hcl} block; Only one {f.hcl} block is allowed. Another was defined at {self.path}:{first.line},{first.column}.')
            return decoded[0][1]
        if f.mode == "map":
            return {k: v for k, v in sorted(decoded, key=lambda kv: kv[0] or "")}
        return [v for _, v in decoded]

    def opaque(self, body: ast.Body, scope: Scope) -> dict[str, Any]:
        """Driver ``config``/scaling ``policy``: free-form, HCL1-compatible shapes."""
        out: dict[str, Any] = {}
        for name, attr in self.attributes(body, None).items():
            v = self.eval(attr.expr, scope)
            v = _opaque_value(v)
            if isinstance(attr.expr, ast.ObjectExpr):
                v = [v]  # an object literal is wrapped like a nested block
            out[name] = v
        for block in body.blocks:  # `dynamic` is not expanded here, as in Nomad
            inner = self.opaque(block.body, scope)
            if block.labels:
                for label in reversed(block.labels):
                    inner = {label: [inner]}
            out.setdefault(block.type, []).append(inner)
        return {k: out[k] for k in sorted(out)}

    # ------------------------------------------------------------- hooks
    def job(self, block: ast.Block, scope: Scope) -> dict[str, Any]:
        if len(block.labels) != 1:
            raise self.syntax(block.pos, "Missing name for job; All job blocks must have 1 labels (name).")
        job = self.decode(STRUCTS["job"], block.body, scope)
        name = block.labels[0]
        if job["ID"] is None:
            job["ID"] = name
        if job["Name"] is None:
            job["Name"] = name
        return job

    def after_job(self, out: dict[str, Any], attrs: Any, blocks: Mapping[str, list[tuple[ast.Block, Scope]]], scope: Scope) -> None:
        # A task written directly under `job` becomes its own group, first.
        implicit: list[dict[str, Any]] = []
        for block, bscope in blocks.get("task", []):
            if len(block.labels) != 1:
                raise self.syntax(block.pos, "Missing name for task; All task blocks must have 1 labels (name).")
            task = self.decode(STRUCTS["task"], block.body, bscope, label=("Name", block.labels[0]))
            group = self.decode(STRUCTS["group"], ast.Body(), scope, label=("Name", block.labels[0]))
            group["Tasks"] = [task]
            implicit.append(group)
        if implicit:
            out["TaskGroups"] = implicit + (out["TaskGroups"] or [])
        vault = self.single_vault(blocks)
        if vault is not None:
            for group in out["TaskGroups"] or []:
                self.inherit_vault(group, vault)

    def single_vault(self, blocks: Mapping[str, list[tuple[ast.Block, Scope]]]) -> dict[str, Any] | None:
        vaults = blocks.get("vault", [])
        if len(vaults) > 1:
            first, second = vaults[0][0].pos, vaults[1][0].pos
            raise self.syntax(second, f'Duplicate vault block; Only one block of type "vault" is allowed. Previous definition was at {self.path}:{first.line},{first.column}.')
        if not vaults:
            return None
        vblock, vscope = vaults[0]
        if vblock.labels:
            raise self.syntax(vblock.pos, "Extraneous label for vault; No labels are expected for vault blocks.")
        return self.decode(STRUCTS["vault"], vblock.body, vscope)

    @staticmethod
    def inherit_vault(group: dict[str, Any], vault: dict[str, Any]) -> None:
        """A job- or group-level vault goes to every task that has none of its own."""
        for task in group["Tasks"] or []:
            if task["Vault"] is None:
                task["Vault"] = dict(vault, Policies=list(vault["Policies"]) if vault["Policies"] else vault["Policies"])

    def after_group(self, out: dict[str, Any], attrs: Any, blocks: Mapping[str, list[tuple[ast.Block, Scope]]], scope: Scope) -> None:
        vault = self.single_vault(blocks)
        if vault is not None:
            self.inherit_vault(out, vault)
        scaling = blocks.get("scaling", [])
        if scaling:
            block, _ = scaling[0]
            if not out["Scaling"]["Type"]:
                out["Scaling"]["Type"] = "horizontal"
            if out["Scaling"]["Max"] is None:
                raise self.syntax(block.pos, 'Missing required argument; The argument "max" is required, but no definition was found.')
            if out["Scaling"]["Type"] != "horizontal":
                type_attr = next(a for a in block.body.attributes if a.name == "type")
                raise self.ev.error(f'Invalid group scaling type; task group scaling policy had invalid type: "{out["Scaling"]["Type"]}"', type_attr.expr)

    def after_task(self, out: dict[str, Any], attrs: Any, blocks: Mapping[str, list[tuple[ast.Block, Scope]]], scope: Scope) -> None:
        # Task `scaling "cpu"`/`scaling "mem"` blocks: vertical scaling policies.
        policies: list[dict[str, Any]] = []
        seen: dict[str, ast.Pos] = {}
        for block, bscope in blocks.get("scaling", []):
            if len(block.labels) != 1:
                raise self.syntax(block.pos, "Missing name for scaling; All scaling blocks must have 1 labels (name).")
            label = block.labels[0].lower()
            wanted = {"cpu": "vertical_cpu", "mem": "vertical_mem"}.get(label)
            if wanted is None:
                pos = block.label_pos[0] if block.label_pos else block.pos
                raise self.syntax(pos, 'Invalid scaling policy name; scaling policy name must be "cpu" or "mem"')
            if label in seen:
                prev = seen[label]
                raise self.syntax(block.pos, f"Duplicate scaling \"{label}\" block; Only one scaling {label} block is allowed. Another was defined at {self.path}:{prev.line},{prev.column}.")
            seen[label] = block.pos
            policy = self.decode(STRUCTS["scaling"], block.body, bscope)
            if not policy["Type"]:
                policy["Type"] = wanted
            elif policy["Type"] != wanted:
                raise self.syntax(block.pos, f'Invalid scaling policy type; Invalid policy type, expected "{policy["Type"]}" but found "{wanted}"')
            policies.append(policy)
        out["ScalingPolicies"] = policies or None
        self.require_arguments(blocks.get("action", []), ("command",))
        if "Identities" in out:
            self.task_identity(out, blocks.get("identity", []))

    def require_arguments(self, found: list[tuple[ast.Block, Scope]], names: tuple[str, ...]) -> None:
        """gohcl refuses a block without an argument its tag does not mark optional."""
        for block, _ in found:
            for name in names:
                if not any(a.name == name for a in block.body.attributes):
                    raise self.syntax(block.pos, f'Missing required argument; The argument "{name}" is required, but no definition was found.')

    def task_identity(self, out: dict[str, Any], found: list[tuple[ast.Block, Scope]]) -> None:
        """Before 1.7 ``identity`` is one block (Task.Identity, api/tasks.go v1.5.0); from
        1.7 the unnamed or "default" one becomes Task.Identity and the rest stay in
        Identities (jobspec2/parse_job.go v1.7.0 normalizeJob)."""
        identities = out.pop("Identities")
        if self.version is not None and self.version < (1, 7, 0):
            if len(found) > 1:
                first, second = found[0][0].pos, found[1][0].pos
                raise self.syntax(second, f"Duplicate identity block; Only one identity block is allowed. Another was defined at {self.path}:{first.line},{first.column}.")
            out["Identity"] = identities[0]
            return
        default = next((i for i, wid in enumerate(identities) if wid["Name"] in ("", "default")), None)
        out["Identity"] = identities.pop(default) if default is not None else None
        out["Identities"] = identities

    def _shorthands(self, out: dict[str, Any], attrs: Mapping[str, ast.Attribute], scope: Scope, names: tuple[str, ...]) -> None:
        for op in names:
            if op in attrs:
                out["Operand"] = op
                out["RTarget"] = self.value(attrs[op], "string", scope)

    def after_constraint(self, out: dict[str, Any], attrs: Mapping[str, ast.Attribute], blocks: Any, scope: Scope) -> None:
        self._shorthands(out, attrs, scope, ("version", "semver", "regexp", "set_contains"))
        # Nomad 1.0 sets only the operand for the boolean form (RTarget stays "").
        if "distinct_hosts" in attrs and self.value(attrs["distinct_hosts"], "bool", scope):
            out["Operand"] = "distinct_hosts"
        if "distinct_property" in attrs:
            out["Operand"] = "distinct_property"
            out["LTarget"] = self.value(attrs["distinct_property"], "string", scope)
        # set_contains_any/all, is_set, is_not_set are accepted but not mapped (Nomad 1.0).
        if not out["Operand"]:
            out["Operand"] = "="

    def after_affinity(self, out: dict[str, Any], attrs: Mapping[str, ast.Attribute], blocks: Any, scope: Scope) -> None:
        self._shorthands(out, attrs, scope, ("version", "semver", "regexp", "set_contains_any", "set_contains_all", "set_contains"))
        if not out["Operand"]:
            out["Operand"] = "="

    def after_network(self, out: dict[str, Any], attrs: Any, blocks: Mapping[str, list[tuple[ast.Block, Scope]]], scope: Scope) -> None:
        reserved: list[dict[str, Any]] = []
        dynamic: list[dict[str, Any]] = []
        for block, bscope in blocks.get("port", []):
            if len(block.labels) != 1:
                raise self.syntax(block.pos, "Missing name for port; All port blocks must have 1 labels (name).")
            port = self.decode(STRUCTS["port"], block.body, bscope, label=("Label", block.labels[0]))
            (reserved if port["Value"] > 0 else dynamic).append(port)
        out["ReservedPorts"] = reserved or None
        out["DynamicPorts"] = dynamic or None

    def after_periodic(self, out: dict[str, Any], *_: Any) -> None:
        if out["Spec"] is not None:
            out["SpecType"] = "cron"

    def after_template(self, out: dict[str, Any], attrs: Any, blocks: Mapping[str, list[tuple[ast.Block, Scope]]], scope: Scope) -> None:
        self.require_arguments(blocks.get("wait", []), STRUCTS["wait"].required)
        self.require_arguments(blocks.get("change_script", []), STRUCTS["change_script"].required)
        script = out.get("ChangeScript")
        if script is not None:  # jobspec2/parse_job.go v1.8.0 normalizeChangeScript
            script["Args"] = [] if script["Args"] is None else script["Args"]
            script["Timeout"] = 5_000_000_000 if script["Timeout"] is None else script["Timeout"]
            script["FailOnError"] = False if script["FailOnError"] is None else script["FailOnError"]
        if out["ChangeMode"] is None:
            out["ChangeMode"] = "restart"
        if out["Perms"] is None:
            out["Perms"] = "0644"
        if out["Splay"] is None:
            out["Splay"] = 5_000_000_000

    def after_vault(self, out: dict[str, Any], *_: Any) -> None:
        if out["Env"] is None:
            out["Env"] = True
        if out["ChangeMode"] is None:
            out["ChangeMode"] = "restart"


def _zero(kind: str) -> Any:
    return {"string": "", "int": 0, "float": 0, "bool": False, "duration": 0}[kind]


def _opaque_value(v: Any) -> Any:
    """Maps inside opaque config are Go maps: keys sorted when printed."""
    if isinstance(v, dict):
        return {k: _opaque_value(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_opaque_value(i) for i in v]
    return v
