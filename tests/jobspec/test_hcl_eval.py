"""HCL2 expression evaluation: operators, references, splats, for, templates."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import JobEvaluationError, JobSyntaxError
from reconciler.jobspec.hcl_functions import build_evaluator
from reconciler.jobspec.hcl_syntax import parse_expression

SCOPE: dict[str, Any] = {
    "var": {
        "n": 3,
        "s": "abc",
        "flag": True,
        "list": ["x", "y", "z"],
        "objs": [{"name": "a", "port": 1, "tags": ["t1"]}, {"name": "b", "port": 2, "tags": ["t2", "t3"]}],
        "map": {"b": 2, "a": 1, "c": 3},
    },
    "local": {"greeting": "hi"},
}


def evaluate(text: str, scope: dict[str, Any] | None = None) -> Any:
    expr = parse_expression(text, path="t.hcl")
    return build_evaluator(path="t.hcl", allow_fs=False).eval(expr, SCOPE if scope is None else scope)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # arithmetic keeps integers integral, division can make fractions
        ("1 + 2 * 3 - 4 / 2", 5),
        ("(1 + 2) * 3", 9),
        ("10 / 4", 2.5),
        ("7 % 3", 1),
        ("-var.n", -3),
        ('"5" + 1', 6),  # strings convert to numbers for arithmetic
        ("1.5 * 2", 3),
        # comparison and logic
        ("var.n >= 3 && var.n < 4", True),
        ("!var.flag || false", False),
        ('1 == "1"', False),  # no conversion for equality, as in cty
        ("[1, 2] == [1, 2]", True),
        ('{a = 1} != {a = "1"}', True),
        ('true && "true"', True),
        # conditionals
        ('var.flag ? "on" : "off"', "on"),
        ("var.n > 5 ? 1 : var.n > 2 ? 2 : 3", 2),
        # references, index and attribute access
        ("var.list[1]", "y"),
        ('var.map["c"]', 3),
        ("var.objs[1].tags[0]", "t2"),
        ("var.list.0", "x"),
        ("local.greeting", "hi"),
        # splats
        ("var.objs[*].name", ["a", "b"]),
        ("var.objs.*.port", [1, 2]),
        ("var.objs[*].tags[0]", ["t1", "t2"]),
        # for expressions: lists, maps in sorted key order, filters, grouping
        ("[for s in var.list : upper(s)]", ["X", "Y", "Z"]),
        ("[for i, s in var.list : i if s != \"y\"]", [0, 2]),
        ("[for k, v in var.map : k]", ["a", "b", "c"]),
        ("{for o in var.objs : o.name => o.port}", {"a": 1, "b": 2}),
        ("{for o in var.objs : length(o.tags) => o.name...}", {"1": ["a"], "2": ["b"]}),
        ("{for k, v in var.map : v => k if v > 1}", {"2": "b", "3": "c"}),
        # collections
        ('[1, "a", true, null]', [1, "a", True, None]),
        ('{ a = 1, "b" = 2, c : 3 }', {"a": 1, "b": 2, "c": 3}),
        ("{ (var.s) = 1 }", {"abc": 1}),
    ],
)
def test_expression_values(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"n=${var.n}"', "n=3"),
        ('"${var.n}"', 3),  # a lone interpolation keeps its type
        ('"${var.flag}"', True),
        ('"a${var.flag}"', "atrue"),
        ('"${1.5 * 3}"', 4.5),
        ('"x${1.5 * 3}"', "x4.5"),
        ('"$${var.n} %%{x}"', "${var.n} %{x}"),
        ('"tab\\t\\"q\\" \\\\ \\u00e9 \\U0001F600"', 'tab\t"q" \\ é 😀'),
        ('"%{if var.flag}yes%{else}no%{endif}"', "yes"),
        ('"%{for i, s in var.list}${i}${s},%{endfor}"', "0x,1y,2z,"),
        ('"%{ for s in var.list ~} [${s}] %{~ endfor }"', "[x][y][z]"),
        ('"${upper("in${"ner"}")}"', "INNER"),
        ('"a  ${~ var.n ~}  b"', "a3b"),  # strip markers inside a quoted string
        ('"a  ${~ var.n}  b"', "a3  b"),
        ('"a  ${var.n ~}  b"', "a  3b"),
        # names Nomad does not know are runtime interpolations and stay literal
        ('"${attr.kernel.name}"', "${attr.kernel.name}"),
        ('"${node.unique.name}-${var.n}"', "${node.unique.name}-3"),
        ('"${NOMAD_ALLOC_INDEX}"', "${NOMAD_ALLOC_INDEX}"),
        ('"${meta.rack}"', "${meta.rack}"),
        ('"/opt/bin:${PATH}"', "/opt/bin:${PATH}"),
        ('"${attr.platform.aws["instance-type"]}"', '${attr.platform.aws["instance-type"]}'),
    ],
)
def test_templates(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


def test_heredoc_keeps_text_and_interpolates() -> None:
    text = "<<EOT\nline ${var.n}\n  indented {{ .Go }}\nEOT\n"
    assert evaluate(text) == "line 3\n  indented {{ .Go }}\n"


def test_indented_heredoc_strips_common_indentation() -> None:
    text = "<<-EOT\n    first\n      second ${var.s}\n    EOT\n"
    assert evaluate(text) == "first\n  second abc\n"


def test_heredoc_directives_with_strip_markers() -> None:
    text = (
        "<<EOT\n"
        "%{ for k, v in var.map ~}\n"
        "%{ if v > 1 ~}\n"
        "${k}=${v}\n"
        "%{ endif ~}\n"
        "%{ endfor ~}\n"
        "done\n"
        "EOT\n"
    )
    assert evaluate(text) == "b=2\nc=3\ndone\n"


def test_heredoc_escapes_stay_literal() -> None:
    assert evaluate("<<EOT\n$${NOT} %%{ nope }\nEOT\n") == "${NOT} %{ nope }\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("var.missing", 'Unsupported attribute; This object does not have an attribute named "missing".'),
        ("local.missing", 'Unsupported attribute; This object does not have an attribute named "missing".'),
        ('1 + "x"', "Invalid operand; Unsuitable value for right operand: a number is required."),
        ("var.list[5]", "Invalid index"),
        ('var.map["zz"]', "Invalid index"),
        ('"a" ? 1 : 2', "Incorrect condition type"),
        ("null ? 1 : 2", "Null condition"),
        ('"${null}x"', "Cannot include a null value in a string template"),
        ('"x${[1]}"', "Cannot include the given value in a string template"),
        ("{for s in var.list : \"k\" => s}", "Duplicate object key"),
        ("[for s in null : s]", "Iteration over null value"),
        ("var.n.attr", "Unsupported attribute; Can't access attributes on a number."),
        ("regexall(\"a\", \"b\")", 'Call to unknown function; There is no function named "regexall".'),
        ("1 / 0", "Division by zero"),
    ],
)
def test_evaluation_errors(text: str, message: str) -> None:
    with pytest.raises(JobEvaluationError) as info:
        evaluate(text)
    assert message in info.value.reason
    assert info.value.path == "t.hcl"
    assert info.value.line == 1


def test_error_points_at_the_failing_step() -> None:
    with pytest.raises(JobEvaluationError) as info:
        evaluate("concat(var.list,\n  var.nope)")
    assert (info.value.line, info.value.column) == (2, 6)


@pytest.mark.parametrize("text", ['"${', "[1, 2", "1 +", '"%{ if true }x"', "{a = }", '"%{ endfor }"'])
def test_syntax_errors_are_job_syntax_errors(text: str) -> None:
    with pytest.raises(JobSyntaxError) as info:
        evaluate(text)
    assert info.value.path == "t.hcl"
    assert info.value.line is not None


def test_try_and_can_are_lazy() -> None:
    assert evaluate('try(var.nope, var.map.zz, "fallback")') == "fallback"
    assert evaluate("try(var.n, 0)") == 3
    assert evaluate("can(var.list[9])") is False
    assert evaluate("can(var.list[0])") is True
