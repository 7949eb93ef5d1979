"""HCL2 native syntax → a small expression AST with source positions.

python-hcl2 (its lark grammar) does the tokenising and parsing; this module
turns lark's parse tree into plain, frozen dataclasses that the evaluator can
walk, each carrying a ``Pos`` (1-based line and column) so every later error
can name the file, line and column.  Heredoc bodies come out of the grammar as
one opaque token, so their template (``${...}``, ``%{if}``, ``%{for}``) is
scanned here too; the expressions inside are parsed by the same grammar.  That
scan keeps hclsyntax's literal boundaries (one literal per heredoc line), since
``~`` strip markers and the ``<<-`` indentation rule act on them.

Pure: text in, AST out.  Lark exceptions never leave this module; they become
``JobSyntaxError``.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.parser import parser as _hcl2_parser
from hcl2.postlexer import PostLexer
from lark import Lark, Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from reconciler.errors import JobSyntaxError


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


# --------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    pos: Pos


@dataclass(frozen=True)
class Literal(Expr):
    value: Any  # None, bool, int, float or str


@dataclass(frozen=True)
class Variable(Expr):
    name: str
    runtime_text: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GetAttr(Expr):
    """``obj.name``; ``pos`` is where the whole expression starts, ``step`` the ``.name``."""

    obj: Expr
    name: str
    step: Pos | None = None
    runtime_text: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Index(Expr):
    obj: Expr
    key: Expr
    step: Pos | None = None
    runtime_text: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SplatItem(Expr):
    """The placeholder a splat's per-element traversal starts from."""


@dataclass(frozen=True)
class Splat(Expr):
    source: Expr
    each: Expr  # traversal rooted at a SplatItem
    full: bool  # [*] (True) or .* (False)


@dataclass(frozen=True)
class TupleExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class ObjectExpr(Expr):
    items: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]
    expand_final: bool = False


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Conditional(Expr):
    cond: Expr
    true: Expr
    false: Expr


@dataclass(frozen=True)
class ForExpr(Expr):
    key_var: str | None
    value_var: str
    collection: Expr
    key: Expr | None  # None for a tuple-producing for
    value: Expr
    cond: Expr | None
    group: bool


@dataclass(frozen=True)
class Parens(Expr):
    inner: Expr


# Template parts: literal strings and these nodes.
@dataclass(frozen=True)
class TemplateIf(Expr):
    cond: Expr
    then: tuple[Any, ...]
    otherwise: tuple[Any, ...]


@dataclass(frozen=True)
class TemplateFor(Expr):
    key_var: str | None
    value_var: str
    collection: Expr
    body: tuple[Any, ...]


@dataclass(frozen=True)
class Interp(Expr):
    expr: Expr


@dataclass(frozen=True)
class Template(Expr):
    """A quoted string or heredoc: literal ``str`` parts and ``Interp``/directives."""

    parts: tuple[Any, ...]

    @property
    def single_interp(self) -> Expr | None:
        """``"${x}"`` alone keeps x's type (HCL's template-wrap rule)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Interp):
            return self.parts[0].expr
        return None

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


# ------------------------------------------------------------------------- bodies


@dataclass(frozen=True)
class Attribute:
    name: str
    expr: Expr
    pos: Pos


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...]
    body: Body
    pos: Pos
    label_pos: tuple[Pos, ...] = ()


@dataclass(frozen=True)
class Body:
    attributes: tuple[Attribute, ...] = ()
    blocks: tuple[Block, ...] = ()
    end: Pos | None = None
    items: tuple[Attribute | Block, ...] = field(default=(), compare=False)


# ------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class SourceText:
    """A whole file's text, to find what surrounds an expression parsed from a piece of it."""

    text: str
    line_starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> SourceText:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        return cls(text, tuple(starts))

    def offset(self, line: int, column: int) -> int | None:
        if not 1 <= line <= len(self.line_starts):
            return None
        return self.line_starts[line - 1] + column - 1


def runtime_reference_text(text: str, start: int, end: int) -> str:
    """What Nomad makes of a reference to a name it does not know (``attr.x``, ``NOMAD_*``...).

    Nomad 1.0.18's jobspec2 (``types.config.go``, ``EvalContext.UndefinedVariable``)
    keeps such a reference as text copied from the file: the traversal's source
    ``text[start:end]``, widened back over spaces to an enclosing ``${``, and
    forward over spaces to the ``}`` that follows; or wrapped in ``${...}`` when
    no ``${`` directly encloses it.  Its forward scan starts one character past
    the traversal and only collects spaces, so ``${ x }`` stays as written,
    ``${x ~}`` loses its marker and ``${x~}`` keeps it.  Reproduced as is.
    """
    value = text[start:end]
    i = start - 1
    while i >= 1:
        if text[i] == "{" and text[i - 1] == "$":
            value = text[i - 1 : start] + value
            break
        if text[i] != " ":
            return "${" + value + "}"
        i -= 1
    else:
        return "${" + value + "}"
    for j in range(end + 1, len(text)):
        if text[j] == "}":
            value += text[end:j]
        elif text[j] != " ":
            value += "}"
            break
    return value


def parse_body(text: str, *, path: str = "input.hcl") -> Body:
    """Parse a whole HCL2 file into a ``Body``; syntax errors raise ``JobSyntaxError``."""
    if not text.endswith("\n"):
        text += "\n"  # the grammar wants a newline after the last item
    tree = _parse_lark(text, path=path, line=1, column=1)
    return _Builder(path, text, source=SourceText.of(text)).body(tree.children[0])


def parse_expression(
    text: str, *, path: str = "input.hcl", line: int = 1, column: int = 1, source: SourceText | None = None
) -> Expr:
    """Parse one expression (a ``-var`` value, a template's ``${...}`` content).

    ``source`` is the file the expression sits in at ``line``/``column``, when it does.
    """
    prefix = "__x = ("
    src = f"{prefix}{text}\n)\n"
    tree = _parse_lark(src, path=path, line=line, column=column - len(prefix))
    builder = _Builder(path, src, line_offset=line - 1, column_offset=column - 1 - len(prefix), source=source)
    body = builder.body(tree.children[0])
    if len(body.attributes) != 1 or body.blocks:
        raise JobSyntaxError("Invalid expression; Expected the start of an expression.", path=path, line=line, column=column)
    expr = body.attributes[0].expr
    return expr.inner if isinstance(expr, Parens) else expr


_INTERPOLATION_RULE = "interpolation: INTERP_START expression RBRACE"


@functools.lru_cache(maxsize=1)
def _strip_marker_parser() -> Lark:
    """python-hcl2's grammar with ``${~ expr ~}`` allowed in quoted strings, as HCL allows."""
    grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text(encoding="utf-8")
    if _INTERPOLATION_RULE not in grammar:  # a future python-hcl2 changed the rule: use it as is
        return _hcl2_parser()
    grammar = grammar.replace(
        _INTERPOLATION_RULE, "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE"
    )
    return Lark(grammar, parser="lalr", propagate_positions=True, postlex=PostLexer())


def _parse_lark(text: str, *, path: str, line: int, column: int) -> Tree[Any]:
    def where(ln: int, col: int) -> tuple[int, int]:
        return (ln + line - 1, col + column - 1 if ln == 1 else col)

    try:
        try:
            return _hcl2_parser().parse(text)
        except UnexpectedInput:
            if "${~" not in text and "~}" not in text:
                raise
            # python-hcl2's grammar lacks `~` in quoted-string interpolations; retry with
            # a grammar that has it (built only when a file needs it).
            return _strip_marker_parser().parse(text)
    except UnexpectedEOF as exc:
        ln = text.count("\n") + 1
        raise JobSyntaxError(
            "Argument or block definition required; An argument or block definition is required here.",
            path=path,
            line=where(ln, 1)[0],
            column=1,
        ) from exc
    except UnexpectedToken as exc:
        tok = exc.token
        ln, col = where(tok.line or 1, tok.column or 1)
        if tok.type == "$END":
            # Unclosed block: Nomad points at the end of the file.
            raise JobSyntaxError(
                "Argument or block definition required; An argument or block definition is required here.",
                path=path,
                line=text.count("\n") + line,
                column=1,
            ) from exc
        if tok.type == "STRING_CHARS" and str(tok)[:1] in "{}[]()\n,=:?":
            reason = "Invalid expression; Expected the start of an expression, but found an invalid expression token."
        elif tok.type == "STRING_CHARS":
            # The grammar's lexer falls back to string characters for anything it cannot match.
            reason = f"Invalid character; This character is not used within the language: {str(tok)[:1]!r}."
        elif tok.type == "DBLQUOTE" and "NAME" in exc.expected:
            reason = "Invalid argument name; Argument names must not be quoted."
        elif "NL_OR_COMMENT" in exc.expected and tok.type != "NL_OR_COMMENT" and "RPAR" not in exc.expected:
            reason = "Missing newline after argument; An argument definition must end with a newline."
        elif tok.type in ("RBRACE",) and "NAME" not in exc.expected:
            reason = "Invalid expression; Expected the start of an expression, but found an invalid expression token."
        else:
            reason = f"Invalid syntax; Unexpected {_describe_token(tok)}."
        raise JobSyntaxError(reason, path=path, line=ln, column=col) from exc
    except UnexpectedCharacters as exc:
        ln, col = where(exc.line, exc.column)
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        reason = f"Invalid character; This character is not used within the language: {ch!r}."
        if ch == '"':
            reason = "Unterminated template string; No closing marker was found for the string."
        raise JobSyntaxError(reason, path=path, line=ln, column=col) from exc
    except LarkError as exc:  # any other grammar failure: still a clear syntax error
        raise JobSyntaxError(f"Invalid syntax; {exc}", path=path, line=line, column=column) from exc


def _describe_token(tok: Token) -> str:
    if tok.type in ("NL_OR_COMMENT",):
        return "newline"
    return repr(str(tok).strip() or tok.type)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)


def decode_escapes(raw: str) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] in "uU" and len(s) > 1:
            return chr(int(s[1:], 16))
        return _ESCAPES.get(s, "\\" + s)

    return _ESCAPE_RE.sub(repl, raw)


class _Builder:
    """Walks lark's tree; offsets map positions of a wrapped snippet back to the file."""

    def __init__(
        self, path: str, text: str, *, line_offset: int = 0, column_offset: int = 0, source: SourceText | None = None
    ) -> None:
        self.path = path
        self.text = text
        self.source = source
        self.line_offset = line_offset
        self.column_offset = column_offset

    # positions -------------------------------------------------------------
    def pos(self, node: Tree[Any] | Token) -> Pos:
        if isinstance(node, Token):
            line, col = node.line or 1, node.column or 1
        else:
            line, col = node.meta.line, node.meta.column
        return self._shift(line, col)

    def _shift(self, line: int, col: int) -> Pos:
        if line == 1:
            col += self.column_offset
        return Pos(line + self.line_offset, col)

    def runtime_text(self, start: Pos, node: Tree[Any]) -> str | None:
        """Nomad's text for the traversal from ``start`` to the end of ``node``, if its root is unknown."""
        if self.source is None:
            return None
        end = self._shift(node.meta.end_line, node.meta.end_column)
        begin = self.source.offset(start.line, start.column)
        finish = self.source.offset(end.line, end.column)
        if begin is None or finish is None:
            return None
        return runtime_reference_text(self.source.text, begin, finish)

    def error(self, reason: str, node: Tree[Any] | Token) -> JobSyntaxError:
        p = self.pos(node)
        return JobSyntaxError(reason, path=self.path, line=p.line, column=p.column)

    # structure -------------------------------------------------------------
    def body(self, tree: Tree[Any]) -> Body:
        attrs: list[Attribute] = []
        blocks: list[Block] = []
        items: list[Attribute | Block] = []
        previous: Tree[Any] | None = None
        newline_since = True
        for child in tree.children:
            if not isinstance(child, Tree):
                continue
            if child.data == "new_line_or_comment":
                newline_since = True
                continue
            if previous is not None and not newline_since and not _ends_with_newline(previous):
                # The grammar lets items share a line; HCL requires a newline after each.
                if previous.data == "attribute":
                    reason = "Missing newline after argument; An argument definition must end with a newline."
                else:
                    reason = "Missing newline after block definition; A block definition must end with a newline."
                raise self.error(reason, child)
            previous, newline_since = child, False
            if child.data == "attribute":
                a = self.attribute(child)
                attrs.append(a)
                items.append(a)
            elif child.data == "block":
                b = self.block(child)
                blocks.append(b)
                items.append(b)
        end = self._shift(tree.meta.end_line, tree.meta.end_column) if not tree.meta.empty else None
        return Body(tuple(attrs), tuple(blocks), end, tuple(items))

    def _name(self, node: Tree[Any] | Token) -> str:
        if isinstance(node, Token):
            return str(node)
        return str(node.children[0])

    def attribute(self, tree: Tree[Any]) -> Attribute:
        name_node, _eq, expr = tree.children
        return Attribute(self._name(name_node), self.expr(expr), self.pos(name_node))

    def block(self, tree: Tree[Any]) -> Block:
        parts = [c for c in tree.children if not (isinstance(c, Tree) and c.data == "new_line_or_comment")]
        type_node = parts[0]
        labels: list[str] = []
        label_pos: list[Pos] = []
        body_tree: Tree[Any] | None = None
        for part in parts[1:]:
            if isinstance(part, Token):
                continue  # braces
            if part.data == "body":
                body_tree = part
            elif part.data == "string":
                tmpl = self.string(part)
                if not tmpl.is_literal:
                    bad = next(p for p in part.children if isinstance(p, Tree) and not _is_plain_part(p))
                    raise self.error(
                        "Invalid string literal; Template sequences are not allowed in this string. "
                        'To include a literal "$", double it (as "$$") to escape it.',
                        bad,
                    )
                labels.append("".join(tmpl.parts))
                label_pos.append(self.pos(part))
            else:
                labels.append(self._name(part))
                label_pos.append(self.pos(part))
        assert body_tree is not None
        self._single_line_block_check(parts, body_tree)
        return Block(self._name(type_node), tuple(labels), self.body(body_tree), self.pos(type_node), tuple(label_pos))

    def _single_line_block_check(self, parts: list[Any], body_tree: Tree[Any]) -> None:
        """hclsyntax: a block whose first item shares the line of its ``{`` holds one
        argument only; a nested block there is an error (Nomad's text and position)."""
        brace = next((p for p in parts if isinstance(p, Token) and p.type == "LBRACE"), None)
        first = next((c for c in body_tree.children if isinstance(c, Tree)), None)
        if brace is None or first is None or first.data != "block" or first.meta.empty:
            return
        if first.meta.line != brace.line:
            return
        raise self.error(
            "Argument definition required; A single-line block definition can contain only a "
            f"single argument. If you meant to define argument \"{self._name(first.children[0])}\", "
            "use an equals sign to assign it a value. To define a nested block, place it on a "
            "line of its own within its parent block.",
            first,
        )

    # expressions -----------------------------------------------------------
    def expr(self, node: Tree[Any] | Token) -> Expr:
        if isinstance(node, Token):
            raise self.error(f"Invalid expression; Unexpected {node.type}.", node)
        method = getattr(self, "x_" + node.data, None)
        if method is None:
            raise self.error(f"Invalid expression; Unsupported syntax {node.data!r}.", node)
        result: Expr = method(node)
        return result

    def _trees(self, tree: Tree[Any]) -> list[Tree[Any]]:
        return [c for c in tree.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]

    def x_expr_term(self, tree: Tree[Any]) -> Expr:
        inner = self._trees(tree)
        parens = any(isinstance(c, Token) and c.type == "LPAR" for c in tree.children)
        e = self.expr(inner[0])
        return Parens(self.pos(tree), e) if parens else e

    def x_int_lit(self, tree: Tree[Any]) -> Expr:
        return Literal(self.pos(tree), int(str(tree.children[0])))

    def x_float_lit(self, tree: Tree[Any]) -> Expr:
        v = float(str(tree.children[0]))
        return Literal(self.pos(tree), int(v) if v.is_integer() and "e" not in str(tree.children[0]).lower() and abs(v) < 2**63 else v)

    def x_literal_value(self, tree: Tree[Any]) -> Expr:
        word = str(tree.children[0])
        return Literal(self.pos(tree), {"true": True, "false": False, "null": None}[word])

    def x_identifier(self, tree: Tree[Any]) -> Expr:
        p = self.pos(tree)
        return Variable(p, str(tree.children[0]), self.runtime_text(p, tree))

    def x_keyword(self, tree: Tree[Any]) -> Expr:
        return Variable(self.pos(tree), str(tree.children[0]))

    def x_string(self, tree: Tree[Any]) -> Template:
        return self.string(tree)

    def x_template_string(self, tree: Tree[Any]) -> Expr:
        raw = str(tree.children[0])
        return Template(self.pos(tree), (decode_escapes(raw[2:-2]),))

    def string(self, tree: Tree[Any]) -> Template:
        flat: list[Any] = []
        for part in tree.children:
            if isinstance(part, Token):
                continue  # quotes
            (inner,) = part.children
            if isinstance(inner, Token):
                if inner.type == "STRING_CHARS":
                    flat.append(decode_escapes(str(inner)))
                else:  # $${ or %%{ : literal, one marker char dropped
                    flat.append(str(inner)[1:])
                continue
            kind = inner.data
            p = self.pos(inner)
            strip = _strip_markers(inner)
            if kind == "interpolation":
                flat.append(("interp", self.expr(self._trees(inner)[0]), p, strip))
            elif kind == "template_if_start":
                flat.append(("if", self.expr(self._trees(inner)[0]), p, strip))
            elif kind == "template_else":
                flat.append(("else", None, p, strip))
            elif kind == "template_endif":
                flat.append(("endif", None, p, strip))
            elif kind == "template_endfor":
                flat.append(("endfor", None, p, strip))
            elif kind == "template_for_start":
                trees = self._trees(inner)
                names = [str(t.children[0]) for t in trees if t.data == "identifier"]
                coll = self.expr(trees[-1])
                flat.append(("for", (names, coll), p, strip))
        start = self.pos(tree)  # Nomad points inside the quotes, at the template itself
        return Template(Pos(start.line, start.column + 1), assemble_template(flat, self.path))

    def x_heredoc_template(self, tree: Tree[Any]) -> Expr:
        return self.heredoc(tree, trim=False)

    def x_heredoc_template_trim(self, tree: Tree[Any]) -> Expr:
        return self.heredoc(tree, trim=True)

    def heredoc(self, tree: Tree[Any], *, trim: bool) -> Expr:
        tok = tree.children[0]
        raw = str(tok)
        content = raw[raw.index("\n") + 1 :]
        # The token ends with the closing marker's line (and its newline): drop that line.
        body = content[: content.rstrip("\r\n").rfind("\n") + 1]
        start = self.pos(tok)
        flat = scan_template(
            body, path=self.path, line=start.line + 1, column=1, split_lines=True, source=self.source
        )
        return Template(start, assemble_template(flat, self.path, flush=trim))

    def x_tuple(self, tree: Tree[Any]) -> Expr:
        return TupleExpr(self.pos(tree), tuple(self.expr(t) for t in self._trees(tree)))

    def x_object(self, tree: Tree[Any]) -> Expr:
        items: list[tuple[Expr, Expr]] = []
        for elem in self._trees(tree):
            key_tree, value_tree = self._trees(elem)
            key_inner = self._trees(key_tree)[0]
            key: Expr = self.expr(key_inner)
            if isinstance(key, Variable):  # bare identifiers are literal keys
                key = Literal(key.pos, key.name)
            items.append((key, self.expr(value_tree)))
        return ObjectExpr(self.pos(tree), tuple(items))

    def x_function_call(self, tree: Tree[Any]) -> Expr:
        trees = self._trees(tree)
        name = str(trees[0].children[0])
        args: tuple[Expr, ...] = ()
        expand = False
        if len(trees) > 1 and trees[-1].data == "arguments":
            arg_tree = trees[-1]
            args = tuple(self.expr(t) for t in self._trees(arg_tree))
            expand = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in arg_tree.children)
        return Call(self.pos(tree), name, args, expand)

    def x_binary_op(self, tree: Tree[Any]) -> Expr:
        left_tree, term = self._trees(tree)[:2]
        op_tree, right_tree = self._trees(term)
        op = str(op_tree.children[0]).strip()
        return Binary(self.pos(tree), op, self.expr(left_tree), self.expr(right_tree))

    def x_unary_op(self, tree: Tree[Any]) -> Expr:
        op = str(tree.children[0]).strip()
        return Unary(self.pos(tree), op, self.expr(self._trees(tree)[0]))

    def x_conditional(self, tree: Tree[Any]) -> Expr:
        c, t, f = self._trees(tree)
        return Conditional(self.pos(tree), self.expr(c), self.expr(t), self.expr(f))

    def _traversal_step(self, base: Expr, step: Tree[Any]) -> Expr:
        p = self.pos(step)
        start = base.pos
        text = self.runtime_text(start, step)
        if step.data == "get_attr":
            name_node = self._trees(step)[0]
            return GetAttr(start, base, str(name_node.children[0]), p, text)
        if step.data == "braces_index":
            return Index(start, base, self.expr(self._trees(step)[0]), p, text)
        if step.data == "short_index":
            tok = next(c for c in step.children if isinstance(c, Token) and c.type == "INT_LITERAL")
            return Index(start, base, Literal(p, int(str(tok))), p, text)
        raise self.error(f"Invalid expression; Unsupported traversal {step.data!r}.", step)

    def x_get_attr_expr_term(self, tree: Tree[Any]) -> Expr:
        base, step = self._trees(tree)
        return self._traversal_step(self.expr(base), step)

    def x_index_expr_term(self, tree: Tree[Any]) -> Expr:
        base, step = self._trees(tree)
        return self._traversal_step(self.expr(base), step)

    def _splat(self, tree: Tree[Any], *, full: bool) -> Expr:
        base, splat = self._trees(tree)
        p = self.pos(splat)
        each: Expr = SplatItem(p)
        for step in self._trees(splat):
            each = self._traversal_step(each, step)
        return Splat(self.pos(tree), self.expr(base), each, full)

    def x_attr_splat_expr_term(self, tree: Tree[Any]) -> Expr:
        return self._splat(tree, full=False)

    def x_full_splat_expr_term(self, tree: Tree[Any]) -> Expr:
        return self._splat(tree, full=True)

    def _for(self, tree: Tree[Any], *, is_object: bool) -> Expr:
        trees = self._trees(tree)
        intro = trees[0]
        intro_trees = self._trees(intro)
        names = [str(t.children[0]) for t in intro_trees[:-1]]
        coll = self.expr(intro_trees[-1])
        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        rest = trees[1:]
        cond: Expr | None = None
        if rest and rest[-1].data == "for_cond":
            cond = self.expr(self._trees(rest[-1])[0])
            rest = rest[:-1]
        group = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in tree.children)
        if is_object:
            key_e, val_e = (self.expr(t) for t in rest)
            return ForExpr(self.pos(tree), key_var, value_var, coll, key_e, val_e, cond, group)
        return ForExpr(self.pos(tree), key_var, value_var, coll, None, self.expr(rest[0]), cond, False)

    def x_for_tuple_expr(self, tree: Tree[Any]) -> Expr:
        return self._for(tree, is_object=False)

    def x_for_object_expr(self, tree: Tree[Any]) -> Expr:
        return self._for(tree, is_object=True)


def _ends_with_newline(tree: Tree[Any]) -> bool:
    """Whether an item's last token carries its newline (heredocs, trailing comments)."""
    last: Token | None = None
    for tok in tree.scan_values(lambda v: isinstance(v, Token)):
        last = tok
    return last is not None and "\n" in str(last)


def _is_plain_part(tree: Tree[Any]) -> bool:
    return tree.data == "string_part" and all(isinstance(c, Token) and c.type == "STRING_CHARS" for c in tree.children)


def _strip_markers(tree: Tree[Any]) -> tuple[bool, bool]:
    """(strip before, strip after) for the ``~`` markers of ``${~ x ~}`` / ``%{~ if x ~}``."""
    left = right = False
    seen_content = False
    for child in tree.children[1:-1]:  # between the opening marker and "}"
        if isinstance(child, Token) and child.type == "STRIP_MARKER":
            if seen_content:
                right = True
            else:
                left = True
        else:
            seen_content = True
    return (left, right)


# ---------------------------------------------------------------------- templates


def _find_close(text: str, i: int) -> int:
    """Index of the ``}`` closing a ``${``/``%{`` opened just before ``i``; -1 if none."""
    depth = 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 2
                    continue
                if text.startswith("${", i) or text.startswith("%{", i):
                    j = _find_close(text, i + 2)
                    if j < 0:
                        return -1
                    i = j + 1
                    continue
                i += 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


_FOR_RE = re.compile(r"\s*for\s+([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*)\s*)?in\s", re.S)


def scan_template(
    text: str, *, path: str, line: int, column: int, split_lines: bool = False, source: SourceText | None = None
) -> list[Any]:
    """Split template text into literal strings and directive tuples.

    With ``split_lines`` (heredoc bodies) a literal never spans a line end: each
    line's text is its own literal, ending with its newline, as hclsyntax's scanner
    emits heredoc literals.  That granularity is observable: ``~`` strip markers
    trim only the neighbouring literal, and the ``<<-`` indentation rule looks at
    the literal that starts each line.
    """
    flat: list[Any] = []
    lit: list[str] = []
    i = 0

    def where(offset: int) -> tuple[int, int]:
        before = text[:offset]
        ln = before.count("\n")
        col = offset - (before.rfind("\n") + 1) + 1
        return line + ln, (col if ln else col + column - 1)

    while i < len(text):
        if text.startswith("$${", i) or text.startswith("%%{", i):
            lit.append(text[i + 1 : i + 3])
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            end = _find_close(text, i + 2)
            ln, col = where(i)
            if end < 0:
                raise JobSyntaxError(
                    "Unterminated template string; No closing marker was found for the template sequence.",
                    path=path, line=ln, column=col,
                )
            if lit:
                flat.append("".join(lit))
                lit = []
            inner = text[i + 2 : end]
            strip_l = inner.startswith("~")
            strip_r = inner.endswith("~")
            inner_body = inner[1 if strip_l else 0 : len(inner) - (1 if strip_r else 0)]
            ln_in, col_in = where(i + 2 + (1 if strip_l else 0))
            p = Pos(ln, col)
            strip = (strip_l, strip_r)
            if text[i] == "$":
                flat.append(("interp", parse_expression(inner_body, path=path, line=ln_in, column=col_in, source=source), p, strip))
            else:
                word = inner_body.strip()
                m = _FOR_RE.match(inner_body)
                if m:
                    names = [m.group(1)] + ([m.group(2)] if m.group(2) else [])
                    ln_e, col_e = where(i + 2 + (1 if strip_l else 0) + m.end())
                    coll = parse_expression(inner_body[m.end() :], path=path, line=ln_e, column=col_e, source=source)
                    flat.append(("for", (names, coll), p, strip))
                elif word.startswith("if ") or word.startswith("if("):
                    off = inner_body.index("if") + 2
                    ln_e, col_e = where(i + 2 + (1 if strip_l else 0) + off)
                    flat.append(("if", parse_expression(inner_body[off:], path=path, line=ln_e, column=col_e, source=source), p, strip))
                elif word in ("else", "endif", "endfor"):
                    flat.append((word, None, p, strip))
                else:
                    raise JobSyntaxError(
                        f"Invalid template directive; A template directive keyword (\"if\", \"for\", etc) is expected at the beginning of a %{{ sequence, not {word.split()[0] if word else ''!r}.",
                        path=path, line=ln, column=col,
                    )
            i = end + 1
            continue
        lit.append(text[i])
        if split_lines and text[i] == "\n":
            flat.append("".join(lit))
            lit = []
        i += 1
    if lit:
        flat.append("".join(lit))
    return flat


def assemble_template(flat: list[Any], path: str, *, flush: bool = False) -> tuple[Any, ...]:
    """Nest the flat if/else/endif and for/endfor markers; apply ``~`` and ``<<-`` trimming.

    The order is hclsyntax's (hcl v2 ``parser_template.go``, the same from the
    version vendored in Nomad 1.0.18 through the one Nomad 2.0 requires): strip
    markers first, each trimming only the one literal next to it; then, for
    ``<<-``, the indentation rule on the literals as trimmed; then nesting.
    """
    items = list(flat)
    for k, item in enumerate(items):
        if not isinstance(item, tuple):
            continue
        strip_l, strip_r = item[3]
        if strip_l and k > 0 and isinstance(items[k - 1], str):
            items[k - 1] = items[k - 1].rstrip(GO_SPACE)
        if strip_r and k + 1 < len(items) and isinstance(items[k + 1], str):
            items[k + 1] = items[k + 1].lstrip(GO_SPACE)
    if flush:
        _flush_heredoc(items)
    # hclsyntax keeps "${x}" typed only when the template is that one token: a literal
    # trimmed to nothing still counts, so such a template renders to a string.
    keep_empty = len(items) > 1

    pos = 0

    def parse_seq(stop: tuple[str, ...]) -> tuple[list[Any], str | None, Pos | None]:
        nonlocal pos
        out: list[Any] = []
        while pos < len(items):
            item = items[pos]
            pos += 1
            if isinstance(item, str):
                if item and out and isinstance(out[-1], str):
                    out[-1] += item  # one literal per run, as hclsyntax melds them after trimming
                elif item:
                    out.append(item)
                continue
            kind, payload, p, _strip = item
            if kind in stop:
                return out, kind, p
            if kind == "interp":
                out.append(Interp(payload.pos, payload))
            elif kind == "if":
                then, ended, _ = parse_seq(("else", "endif"))
                otherwise: list[Any] = []
                if ended == "else":
                    otherwise, ended, _ = parse_seq(("endif",))
                if ended != "endif":
                    raise JobSyntaxError("Unterminated template directive; Missing %{ endif } for this %{ if }.", path=path, line=p.line, column=p.column)
                out.append(TemplateIf(p, payload, tuple(then), tuple(otherwise)))
            elif kind == "for":
                names, coll = payload
                body, ended, _ = parse_seq(("endfor",))
                if ended != "endfor":
                    raise JobSyntaxError("Unterminated template directive; Missing %{ endfor } for this %{ for }.", path=path, line=p.line, column=p.column)
                key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
                out.append(TemplateFor(p, key_var, value_var, coll, tuple(body)))
            else:
                raise JobSyntaxError(
                    f"Unexpected {kind} directive; There is no open block for this %{{ {kind} }}.",
                    path=path, line=p.line, column=p.column,
                )
        return out, None, None

    parts, _, _ = parse_seq(())
    if keep_empty and len(parts) == 1 and isinstance(parts[0], Interp):
        parts.append("")
    return tuple(parts)


#: What Go's ``unicode.IsSpace`` accepts (hclsyntax trims with it).  Python's
#: ``str.isspace`` also accepts U+001C..U+001F, which Go does not.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _flush_heredoc(items: list[Any]) -> None:
    """The ``<<-`` rule, in place: drop the smallest indentation from line-leading literals.

    Only a literal that starts a line counts and is trimmed, and a line starts
    only after a literal that ends with a newline.  So the line after a
    directive whose ``~}`` ate that newline keeps its indentation, a line that
    starts with ``${``/``%{`` counts as indentation zero, a literal that ``%{~``
    trimmed to nothing counts as zero too, and whitespace-only lines neither
    count nor lose their whitespace.  Indentation is counted in characters
    (grapheme clusters), so a tab is one, like a space.
    """
    blank = sys.maxsize  # a blank line: larger than any real indentation
    smallest = blank
    adjust: list[int] = []
    at_line_start = True
    for k, item in enumerate(items):
        if at_line_start:
            at_line_start = False
            width = 0
            if isinstance(item, str):
                rest = item.lstrip(GO_SPACE)
                if not rest and item.endswith("\n"):
                    width = blank
                else:
                    width = len(_grapheme_clusters(item[: len(item) - len(rest)]))
                    adjust.append(k)
            smallest = min(smallest, width)
        if isinstance(item, str) and item.endswith("\n"):
            at_line_start = True
    if smallest == blank:
        return
    for k in adjust:
        text = items[k]
        items[k] = "".join(_grapheme_clusters(text)[smallest:])


def _grapheme_clusters(text: str) -> list[str]:
    """``text`` split into user-perceived characters, as far as indentation needs.

    Enough of Unicode's rules for line prefixes: CR LF is one cluster, and
    combining marks, variation selectors and zero-width joiners attach to the
    character before them.
    """
    out: list[str] = []
    for ch in text:
        if out and (
            (ch == "\n" and out[-1] == "\r")
            or unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or ch == "\u200d"
        ):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def iter_nodes(node: Any) -> Any:
    """Every expression node under ``node`` (itself included), depth first."""
    if isinstance(node, Expr):
        yield node
        for name in node.__dataclass_fields__:
            if name != "pos":
                yield from iter_nodes(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            yield from iter_nodes(item)
