"""Nomad 1.0's jobspec functions, one table per family, with Nomad's quirks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import JobEvaluationError
from reconciler.jobspec.hcl_functions import build_evaluator, build_functions
from reconciler.jobspec.hcl_syntax import parse_expression


def call(text: str, *, base_dir: str | None = None, allow_fs: bool = False) -> Any:
    ev = build_evaluator(path="f.hcl", base_dir=base_dir, allow_fs=allow_fs)
    return ev.eval(parse_expression(text, path="f.hcl"), {})


NUMERIC = [
    ("abs(-5)", 5),
    ("ceil(2.1)", 3),
    ("floor(-2.1)", -3),
    ("log(8, 2)", 3),
    ("pow(2, 10)", 1024),
    ("signum(-3)", -1),
    ("max(4, 9, 2)", 9),
    ("min([4, 9, 2]...)", 2),
    ('parseint("ff", 16)', 255),
    ('parseint("-101", 2)', -5),
]

STRINGS = [
    ('chomp("x\\n\\n")', "x"),
    ('format("%s-%03d-%.2f-%t", "svc", 7, 3.14159, true)', "svc-007-3.14-true"),
    ('format("%5s|%-4s|%x|%q|%%", "ab", "cd", 255, "hi")', "   ab|cd  |ff|\"hi\"|%"),
    ('formatlist("%s=%d", ["a", "b"], [1, 2])', ["a=1", "b=2"]),
    ('formatlist("port:%d", [80, 443])', ["port:80", "port:443"]),
    ('indent(2, "a\\nb")', "a\n  b"),
    ('join("|", ["a", "b"], ["c"])', "a|b|c"),
    ('lower("ABC")', "abc"),
    ('upper("abc")', "ABC"),
    ('title("hello nomad world")', "Hello Nomad World"),
    ('replace("a.b.c", ".", "_")', "a_b_c"),
    ('replace("/a/", "/a/", "b")', "b"),  # never a regex in Nomad 1.0
    ('regex_replace("v1.2.3-beta", "[^0-9.]", "")', "1.2.3"),
    ('reverse("stressed")', "desserts"),  # string reversal in Nomad 1.0
    ('strrev("abc")', "cba"),
    ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
    ('substr("nomad-scheduler", 6, 5)', "sched"),
    ('substr("hello", -3, -1)', "llo"),
    ('trim("??x?", "?")', "x"),
    ('trimprefix("svc-orders", "svc-")', "orders"),
    ('trimsuffix("orders.service", ".service")', "orders"),
    ('trimspace("  x \\n")', "x"),
]

COLLECTIONS = [
    ("chunklist([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
    ('coalesce(null, "second", "third")', "second"),
    ('coalesce("", "x")', ""),  # Nomad 1.0 skips only nulls
    ("coalescelist([], [1], [2])", [1]),
    ('compact(["a", "", "b"])', ["a", "b"]),
    ("concat([1], [2, 3], [])", [1, 2, 3]),
    ("contains([1, 2], 2)", True),
    ('contains(["1"], 1)', False),
    ('distinct(["b", "a", "b"])', ["b", "a"]),
    ('element(["x", "y", "z"], 4)', "y"),
    ("flatten([[1, 2], [3, [4]]])", [1, 2, 3, 4]),
    ('index(["a", "b"], 1)', "b"),  # element access, not Terraform's search
    ('index({a = "x"}, "a")', "x"),
    ("keys({b = 1, a = 2})", ["a", "b"]),
    ("values({b = 1, a = 2})", [2, 1]),
    ("length([1, 2, 3])", 3),
    ("length({a = 1})", 1),
    ('lookup({a = 1}, "a", 0)', 1),
    ('lookup({a = 1}, "z", 0)', 0),
    ("merge({a = 1, b = 1}, {b = 2})", {"a": 1, "b": 2}),
    ("range(3)", [0, 1, 2]),
    ("range(1, 10, 3)", [1, 4, 7]),
    ("range(5, 1)", [5, 4, 3, 2]),
    ('slice(["p", "q", "r", "s"], 1, 3)', ["q", "r"]),
    ('sort(["b", "a", "c"])', ["a", "b", "c"]),
    ('setunion(["a", "b"], ["b", "c"])', ["a", "b", "c"]),
    ('setintersection(["a", "b"], ["b", "c"])', ["b"]),
    ('setproduct(["a"], [1, 2])', [["a", 1], ["a", 2]]),
    ('zipmap(["k1", "k2"], ["v1", "v2"])', {"k1": "v1", "k2": "v2"}),
]

ENCODING = [
    ('base64encode("nomad")', "bm9tYWQ="),
    ('base64decode("cm91bmQtdHJpcA==")', "round-trip"),
    ('csvdecode("a,b\\n1,2\\n3,4")', [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]),
    ('jsondecode("{\\"answer\\": 42}").answer', 42),
    ('jsonencode({b = [1, "x"], a = true})', '{"a":true,"b":[1,"x"]}'),
    ('jsonencode("<&>")', '"\\u003c\\u0026\\u003e"'),  # Go's HTML-safe escaping
    ('urlencode("a b&c=d")', "a+b%26c%3Dd"),
    ('yamlencode({ name = "x", list = [1, 2] })', '"list":\n- 1\n- 2\n"name": "x"\n'),
    ('yamlencode({ a = "x\\ny" })', '"a": |-\n  x\n  y\n'),  # multi-line strings: literal blocks
    ('yamlencode(["x\\n"])', "- |\n  x\n"),
    ("yamlencode(true)", "true\n...\n"),  # a bare plain scalar ends the document
    ('yamlencode("s")', '"s"\n'),
    ("yamlencode({})", "{}\n"),
    ('yamldecode("a: y\\nb: [1, 2.5]\\nc: hello")', {"a": True, "b": [1, 2.5], "c": "hello"}),  # y is true
    ('yamldecode("- n\\n- \\"y\\"")', [False, "y"]),
    ('yamldecode("d: 2021-06-15")', {"d": "2021-06-15"}),
    ('convert(12, string)', "12"),
    ('convert(["1", "2"], list(number))', [1, 2]),
    ('convert({a = 1}, map(string))', {"a": "1"}),
]

HASHING = [
    ('md5("payload")', "321c3cf486ed509164edec1e1981fec8"),
    ('sha1("payload")', "f07e5a815613c5abeddc4b682247a4c42d8a95df"),
    ('sha256("payload")', "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"),
    ('uuidv5("dns", "s03.example.com")', "6f61c6af-b686-5217-87f8-b031e23655cd"),
]

NETWORK_AND_TIME = [
    ('cidrsubnet("10.10.0.0/16", 8, 3)', "10.10.3.0/24"),
    ('cidrhost("192.168.4.0/24", 10)', "192.168.4.10"),
    ('cidrhost("192.168.4.0/24", -1)', "192.168.4.255"),
    ('cidrnetmask("172.16.0.0/12")', "255.240.0.0"),
    ('cidrsubnets("10.0.0.0/8", 8, 8, 4)', ["10.0.0.0/16", "10.1.0.0/16", "10.16.0.0/12"]),
    ('formatdate("YYYY-MM-DD", "2021-06-15T10:00:00Z")', "2021-06-15"),
    ('formatdate("DD MMM YYYY hh:mm ZZZ", "2021-06-15T10:00:00Z")', "15 Jun 2021 10:00 UTC"),
    ("formatdate(\"EEEE h'h'\", \"2021-06-15T15:04:05Z\")", "Tuesday 15h"),
    ('timeadd("2021-06-15T10:00:00Z", "90m")', "2021-06-15T11:30:00Z"),
    ('timeadd("2021-06-15T10:00:00Z", "-1h")', "2021-06-15T09:00:00Z"),
    ('timeadd("2021-06-15T10:00:00+02:00", "1500ms")', "2021-06-15T10:00:01+02:00"),
]


@pytest.mark.parametrize(
    ("text", "expected"), NUMERIC + STRINGS + COLLECTIONS + ENCODING + HASHING + NETWORK_AND_TIME
)
def test_function_results(text: str, expected: Any) -> None:
    assert call(text) == expected


def test_uuidv4_is_random_version_4() -> None:
    first, second = call("uuidv4()"), call("uuidv4()")
    assert first != second
    assert first[14] == "4" and len(first) == 36


@pytest.mark.parametrize(
    "name",
    [
        "tostring", "tonumber", "tobool", "tolist", "toset", "tomap", "templatefile", "timestamp",
        "regex", "regexall", "startswith", "endswith", "strcontains", "one", "sum", "alltrue",
        "anytrue", "env", "type", "sensitive", "nonsensitive", "setsubtract", "transpose",
        "matchkeys", "base64gzip", "textencodebase64", "filebase64", "strlen",
    ],
)
def test_functions_nomad_1_0_lacks_are_unknown(name: str) -> None:
    assert name not in build_functions()
    with pytest.raises(JobEvaluationError) as info:
        call(f'{name}("x")')
    assert info.value.reason == f'Call to unknown function; There is no function named "{name}".'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('length("abc")', 'Invalid value for "collection" parameter'),  # length rejects strings
        ('lookup({a = 1}, "a")', 'Not enough function arguments; Function "lookup" expects 3 argument(s). Missing value for "default".'),
        ('upper("a", "b")', "Too many function arguments"),
        ("element([], 0)", "cannot use element function with an empty list"),
        ('jsondecode("{")', 'Call to function "jsondecode" failed'),
        ('format("%d", "x")', "a number is required"),
        ("coalesce(null, null)", "no non-null arguments"),
        ('cidrsubnet("10.0.0.0/30", 8, 1)', "insufficient address space"),
        ('timeadd("2021-06-15T10:00:00Z", "1d")', 'unknown unit "d"'),
        ('bcrypt("x")', "not supported by nomad-reconciler"),
    ],
)
def test_function_errors(text: str, message: str) -> None:
    with pytest.raises(JobEvaluationError) as info:
        call(text)
    assert message in info.value.reason
    assert (info.value.path, info.value.line) == ("f.hcl", 1)


def test_filesystem_functions_read_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.txt").write_text("hello\n")
    (tmp_path / "conf" / "b.txt").write_text("x")
    base = str(tmp_path)
    assert call('file("conf/a.txt")', base_dir=base, allow_fs=True) == "hello\n"
    assert call('fileexists("conf/a.txt")', base_dir=base, allow_fs=True) is True
    assert call('fileexists("conf/zzz")', base_dir=base, allow_fs=True) is False
    assert call('fileset("conf", "*.txt")', base_dir=base, allow_fs=True) == ["a.txt", "b.txt"]
    assert call('basename("a/b/c.txt")', allow_fs=True) == "c.txt"
    assert call('dirname("a/b/c.txt")', allow_fs=True) == "a/b"


@pytest.mark.parametrize("text", ['file("x")', 'fileexists("x")', 'abspath("x")', 'basename("x")'])
def test_filesystem_functions_can_be_disabled(text: str) -> None:
    with pytest.raises(JobEvaluationError) as info:
        call(text, allow_fs=False)
    assert "filesystem function disabled" in info.value.reason
