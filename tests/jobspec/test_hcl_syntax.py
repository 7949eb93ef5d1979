"""HCL2 syntax → AST (positions, templates, heredocs) and Go duration parsing."""

from __future__ import annotations

import pytest

from reconciler.errors import JobSyntaxError
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.durations import DurationError, format_go_duration, parse_go_duration


def test_body_structure_and_positions() -> None:
    body = ast.parse_body('# c\njob "a" {\n  x = 1\n  group "g" "h" {\n    y = "s"\n  }\n}\n', path="p.hcl")
    (job,) = body.blocks
    assert (job.type, job.labels, job.pos) == ("job", ("a",), ast.Pos(2, 1))
    (attr,) = job.body.attributes
    assert (attr.name, attr.pos, attr.expr) == ("x", ast.Pos(3, 3), ast.Literal(ast.Pos(3, 7), 1))
    (group,) = job.body.blocks
    assert group.labels == ("g", "h")
    assert group.body.attributes[0].expr == ast.Template(ast.Pos(5, 10), ("s",))


def test_items_ending_in_heredocs_or_comments_need_no_extra_newline() -> None:
    body = ast.parse_body("a = <<EOT\nx\nEOT\nb = 1 # note\nc = 2 /* x */\nd = 3\n")
    assert [a.name for a in body.attributes] == ["a", "b", "c", "d"]


def test_file_without_trailing_newline_parses() -> None:
    assert ast.parse_body('job "a" {}').blocks[0].labels == ("a",)


def test_single_interpolation_is_marked() -> None:
    expr = ast.parse_expression('"${a.b}"')
    assert isinstance(expr, ast.Template)
    assert isinstance(expr.single_interp, ast.GetAttr)
    mixed = ast.parse_expression('"x${a}"')
    assert isinstance(mixed, ast.Template) and mixed.single_interp is None


def test_template_directives_are_nested() -> None:
    expr = ast.parse_expression('"%{for x in xs}%{if x}y%{else}n%{endif}%{endfor}"')
    assert isinstance(expr, ast.Template)
    (loop,) = expr.parts
    assert isinstance(loop, ast.TemplateFor) and loop.value_var == "x" and loop.key_var is None
    (cond,) = loop.body
    assert isinstance(cond, ast.TemplateIf) and cond.then == ("y",) and cond.otherwise == ("n",)


def test_heredoc_positions_point_into_the_file() -> None:
    body = ast.parse_body('job "a" {\n  d = <<EOT\nhello\n  ${x.y}\nEOT\n}\n')
    tmpl = body.blocks[0].body.attributes[0].expr
    assert isinstance(tmpl, ast.Template)
    interp = tmpl.parts[1]
    assert isinstance(interp, ast.Interp)
    assert interp.expr.pos.line == 4


def test_splat_and_for_shapes() -> None:
    splat = ast.parse_expression("a[*].b.c")
    assert isinstance(splat, ast.Splat) and splat.full
    assert isinstance(splat.each, ast.GetAttr) and splat.each.name == "c"
    group = ast.parse_expression("{for k, v in m : v => k...}")
    assert isinstance(group, ast.ForExpr) and group.group and group.key_var == "k"


def test_iter_nodes_visits_nested_expressions() -> None:
    names = {n.name for n in ast.iter_nodes(ast.parse_expression('f(a, [b], {k = c}) ? "${d}" : e')) if isinstance(n, ast.Variable)}
    assert names == {"a", "b", "c", "d", "e"}


@pytest.mark.parametrize(
    ("text", "reason", "line", "column"),
    [
        ('job "a" {\n  x = 1\n', "Argument or block definition required", 3, 1),
        ('job "a" {\n  "q" = 1\n}\n', "Argument names must not be quoted", 2, 3),
        ('job "${x}" {}\n', "Template sequences are not allowed in this string", 1, 6),
        ('a = "%{ if x }no end"\n', "Missing %{ endif }", 1, 6),
        ('a = "%{ endif }"\n', "There is no open block", 1, 6),
        ("a = <<EOT\n%{ bogus }\nEOT\n", "Invalid template directive", 2, 1),
        ("a = <<EOT\n${ unclosed\nEOT\n", "Unterminated template string", 2, 1),
        ("a = 1 b = 2\n", "Missing newline after argument", 1, 7),
        ('job "a" {\n  x {} y {}\n}\n', "Missing newline after block definition", 2, 8),
    ],
)
def test_syntax_errors_have_positions(text: str, reason: str, line: int, column: int) -> None:
    with pytest.raises(JobSyntaxError) as info:
        ast.parse_body(text, path="s.hcl")
    assert reason in info.value.reason
    assert (info.value.path, info.value.line, info.value.column) == ("s.hcl", line, column)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("2500ms", 2_500_000_000),
        ("10000000us", 10_000_000_000),
        ("3µs", 3_000),
        ("300000000000ns", 300_000_000_000),
        ("2h45m10s", 9_910_000_000_000),
        ("-1m", -60_000_000_000),
        (".5s", 500_000_000),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10 minutes", 'time: unknown unit " minutes" in duration "10 minutes"'),
        ("300", 'time: missing unit in duration "300"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("", 'time: invalid duration ""'),
        ("abc", 'time: invalid duration "abc"'),
    ],
)
def test_bad_go_durations(text: str, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_go_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("ns", "text"), [(0, "0s"), (90_000_000_000, "1m30s"), (5_400_000_000_000, "1h30m0s"), (2_500_000, "2.5ms"), (1_500_000_000, "1.5s")]
)
def test_go_duration_strings(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text
    assert parse_go_duration(text) == ns
