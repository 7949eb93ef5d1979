"""Analysis templates: the HCL format, its errors (file:line: reason), placeholders,
conditions, the local PromQL check, and how jobs opt in."""

from __future__ import annotations

import pytest

from reconciler.core.analysis_checks import Condition, Outcome, parse_condition
from reconciler.core.analysis_queries import (
    EXAMPLE_VALUES,
    PlaceholderValues,
    placeholder_problems,
    promql_problems,
    render_query,
)
from reconciler.core.analysis_templates import build_catalog, group_analyses, parse_names

PATH = ".reconciler/analysis/http.hcl"

GOOD = """\
# Error rate and latency of the canaries.
analysis "http" {
  check "error-rate" {
    query = <<-EOT
      sum(rate(http_requests_total{nomad_job="{{job}}", alloc_id=~"{{canary_alloc_ids}}", code=~"5.."}[1m]))
      /
      sum(rate(http_requests_total{nomad_job="{{job}}", alloc_id=~"{{canary_alloc_ids}}"}[1m]))
    EOT
    success       = "< 0.01"
    interval      = "30s"
    count         = 5
    failure_limit = 1
  }

  check "p99" {
    query    = "histogram_quantile(0.99, sum by (le) (rate(latency_bucket{group=\\"{{ group }}\\"}[1m])))"
    success  = "0..0.25"
    duration = "3m"
    on_empty = "fail"
    on_error = "inconclusive"
  }
}

analysis "up" {
  check "up" {
    query   = "min(up{nomad_namespace=\\"{{namespace}}\\", version=\\"{{version}}\\", deployment=\\"{{deployment_id}}\\"})"
    success = ">= 1"
    count   = 1
  }
}
"""


def errors_of(text: str) -> list[str]:
    return [d.describe() for d in build_catalog({PATH: text}).errors]


def one_check(body: str) -> str:
    return f'analysis "a" {{\n  check "c" {{\n{body}\n  }}\n}}\n'


def test_a_good_file_declares_its_templates_and_checks() -> None:
    catalog = build_catalog({PATH: GOOD})
    assert catalog.errors == ()
    assert sorted(catalog.templates) == ["http", "up"]
    error_rate, p99 = catalog.templates["http"].checks
    assert error_rate.qualified_name == "http/error-rate"
    assert error_rate.query.startswith("sum(rate(http_requests_total{nomad_job=\"{{job}}\"")
    assert error_rate.query.count("\n") == 3  # the heredoc's lines, indentation stripped
    assert error_rate.success == Condition("<", 0.01)
    assert (error_rate.interval_s, error_rate.count, error_rate.failure_limit) == (30.0, 5, 1)
    assert (error_rate.on_empty, error_rate.on_error) == (Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE)
    assert (error_rate.path, error_rate.line, error_rate.query_line) == (PATH, 3, 5)
    assert error_rate.window_s == 150.0
    # a duration becomes a count of measurements at the (default 1m) interval
    assert (p99.interval_s, p99.count, p99.on_empty) == (60.0, 3, Outcome.FAIL)
    assert p99.success == Condition("..", 0.0, 0.25)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('    success = "< 1"\n    count = 1',
         ':2: error: check "a/c": missing required argument "query" [analysis]'),
        ('    query = "up"\n    count = 1',
         ':2: error: check "a/c": missing required argument "success" (e.g. success = "< 0.01") [analysis]'),
        ('    query = "up"\n    success = "< 1"',
         ':2: error: check "a/c": missing "count" (measurements needed) or "duration" (how long to measure) [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 2\n    duration = "5m"',
         ':6: error: check "a/c": set either "count" or "duration", not both [analysis]'),
        ('    query = "up"\n    success = "about 1"\n    count = 1',
         ':4: error: check "a/c": success condition \'about 1\' is neither a comparison'),
        ('    query = "up"\n    success = "< 1"\n    count = 0',
         ':5: error: check "a/c": "count" must be between 1 and 10000, got 0 [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = "3"',
         ':5,5: error: check "a/c": "count" must be a whole number, got "3" [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 3\n    interval = "30 seconds"',
         ':6: error: check "a/c": "interval": time: unknown unit " seconds" in duration "30 seconds" [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 3\n    interval = "500ms"',
         ':6: error: check "a/c": "interval" must be at least 1s, got "500ms" [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    duration = "30s"',
         ':5: error: check "a/c": "duration" 30s is shorter than "interval" (60s): not even one measurement fits [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 3\n    failure_limit = 3',
         ':6: error: check "a/c": "failure_limit" 3 is not below the 3 measurement(s) of the window: the check could never fail [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 3\n    failure_limit = -1',
         ':6: error: check "a/c": "failure_limit" must be 0 or more, got -1 [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 3\n    on_empty = "pass"',
         ':6: error: check "a/c": "on_empty" must be "inconclusive" or "fail", got "pass" [analysis]'),
        ('    query = "up"\n    success = "< 1"\n    count = 3\n    intervall = "1m"',
         ':6,5: error: check "a/c": unexpected argument "intervall"; did you mean "interval"? [analysis]'),
        ('    query = "up{job=\\"${var.job}\\"}"\n    success = "< 1"\n    count = 3',
         ':3,5: error: check "a/c": "query": templates take constant values; ${...} and %{...} are not evaluated here'),
        ('    query = ""\n    success = "< 1"\n    count = 3',
         ':3: error: check "a/c": "query" is empty [analysis]'),
    ],
)  # fmt: skip
def test_each_mistake_is_an_error_naming_the_line(body: str, expected: str) -> None:
    found = errors_of(one_check(body))
    assert any(line.startswith(PATH + expected.split(" [")[0]) for line in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('analysis "a" {\n  check "c" {\n    query = "up"\n', ":4"),  # unclosed block
        ('interval = "1m"\n', ':1,1: error: unexpected argument "interval": a template file holds only analysis "NAME" blocks'),
        ('analysis "a" "b" {\n}\n', ':1,1: error: unexpected block "analysis" "a" "b": expected analysis "NAME" { ... }'),
        ('analysis "a" {\n}\n', ':1: error: analysis "a" has no check "NAME" block'),
        ('analysis "a" {\n  interval = "1m"\n  check "c" {\n    query = "up"\n    success = "< 1"\n    count = 1\n  }\n}\n',
         ':2,3: error: analysis "a": unexpected argument "interval"; settings belong in its check "NAME" blocks'),
        ('analysis "a b" {\n  check "c" {\n    query = "up"\n    success = "< 1"\n    count = 1\n  }\n}\n',
         ':1: error: analysis name "a b" must start with a letter or digit'),
    ],
)  # fmt: skip
def test_file_level_mistakes(text: str, expected: str) -> None:
    found = errors_of(text)
    assert any(line.startswith(PATH + expected) for line in found), found


def test_a_template_with_an_error_is_broken_and_its_neighbours_still_load() -> None:
    text = GOOD.replace('count         = 5', 'count         = 0')
    catalog = build_catalog({PATH: text})
    assert list(catalog.templates) == ["up"]
    assert list(catalog.broken) == ["http"]
    _found, problems = catalog.resolve(["http"])
    assert problems == [
        f'analysis template "http" has errors: {PATH}:11: check "http/error-rate": '
        '"count" must be between 1 and 10000, got 0'
    ]


def test_a_file_that_does_not_parse_is_named_when_a_reference_is_unknown() -> None:
    catalog = build_catalog({PATH: GOOD, ".reconciler/analysis/broken.hcl": 'analysis "x" {\n'})
    assert catalog.unreadable == (".reconciler/analysis/broken.hcl",)
    _found, problems = catalog.resolve(["x"])
    assert problems == [
        'unknown analysis template "x" (these template files do not parse: '
        ".reconciler/analysis/broken.hcl)"
    ]


def test_unknown_references_get_a_hint() -> None:
    catalog = build_catalog({PATH: GOOD})
    found, problems = catalog.resolve(["htp", "up", "zzz"])
    assert [t.name for t in found] == ["up"]
    assert problems == ['unknown analysis template "htp"; did you mean "http"?',
                        'unknown analysis template "zzz"']  # fmt: skip
    assert build_catalog({}).resolve(["a"])[1] == [
        'unknown analysis template "a" (no templates under .reconciler/analysis/)'
    ]


def test_a_name_declared_in_two_files_is_unusable_and_reported_at_the_second() -> None:
    other = ".reconciler/analysis/z.hcl"
    catalog = build_catalog({PATH: GOOD, other: GOOD.split("analysis \"up\"")[0]})
    assert "http" not in catalog.templates and "up" in catalog.templates
    assert [d.describe() for d in catalog.errors] == [
        f'{other}:2: error: analysis "http" is also declared in {PATH} [analysis]'
    ]
    assert catalog.resolve(["http"])[1][0].startswith('analysis template "http" has errors')


def test_a_check_declared_twice_in_a_template() -> None:
    text = one_check('    query = "up"\n    success = "< 1"\n    count = 1').replace(
        "  }\n}\n", '  }\n  check "c" {\n    query = "up"\n    success = "< 1"\n    count = 1\n  }\n}\n'
    )
    assert f'{PATH}:7: error: analysis "a": check "c" is declared twice [analysis]' in errors_of(text)


# --- conditions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "holds", "shown"),
    [
        ("< 0.01", 0.005, True, "< 0.01"),
        ("< 0.01", 0.01, False, "< 0.01"),
        ("<=0.01", 0.01, True, "<= 0.01"),
        ("> 100", 100.0, False, "> 100"),
        (">= 1e3", 1000.0, True, ">= 1000"),
        ("== 1", 1.0, True, "== 1"),
        ("!= 0", 0.0, False, "!= 0"),
        ("0..0.25", 0.25, True, "0..0.25"),
        (" -1 .. 1 ", -1.0, True, "-1..1"),
        ("0..0.25", 0.2500001, False, "0..0.25"),
    ],
)
def test_conditions(text: str, value: float, holds: bool, shown: str) -> None:
    condition = parse_condition(text)
    assert condition.holds(value) is holds
    assert condition.describe() == shown


@pytest.mark.parametrize("text", ["", "< x", "1", "=> 1", "2..1", "< 1 2"])
def test_bad_conditions_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"success condition|range"):
        parse_condition(text)


# --- placeholders ------------------------------------------------------------------------


def test_placeholder_typos_get_a_hint_and_unbalanced_braces_are_reported() -> None:
    assert placeholder_problems('x{a="{{jbo}}"}') == [(5, "unknown placeholder {{jbo}}; did you mean {{job}}?")]
    assert placeholder_problems('x{a="{{canary_allocs}}"}')[0][1].endswith("did you mean {{canary_alloc_ids}}?")
    assert placeholder_problems('x{a="{{zzzzzz}}"}')[0][1].startswith(
        "unknown placeholder {{zzzzzz}}; known: {{job}}, {{namespace}}, {{group}}"
    )
    assert placeholder_problems('x{a="{{job}"}')[0][1].startswith("unbalanced placeholder braces '{{'")
    assert placeholder_problems('x{a="{{ job }}", b="{{version}}"}') == []


def test_a_placeholder_typo_is_reported_on_its_line_of_a_heredoc() -> None:
    text = GOOD.replace('code=~"5.."', 'code=~"5..", g="{{grop}}"')
    assert errors_of(text) == [
        f'{PATH}:5: error: check "http/error-rate": query: unknown placeholder {{{{grop}}}}; '
        "did you mean {{group}}? [analysis]"
    ]


def test_render_fills_every_placeholder_escaped_for_a_promql_string() -> None:
    values = PlaceholderValues(
        job='we"b\\1', namespace="prod", group="front end", deployment_id="d-1",
        version=7, canary_alloc_ids=("a-1", "b.2"),
    )  # fmt: skip
    query = (
        'x{job="{{job}}", ns="{{namespace}}", g="{{ group }}", d="{{deployment_id}}", '
        'v="{{version}}", alloc=~"{{canary_alloc_ids}}"}'
    )
    assert render_query(query, values) == (
        'x{job="we\\"b\\\\1", ns="prod", g="front end", d="d-1", v="7", alloc=~"a-1|b\\\\.2"}'
    )
    with pytest.raises(ValueError, match="with no allocations"):
        render_query('x{a=~"{{canary_alloc_ids}}"}', PlaceholderValues("j", "n", "g", "d", 1, ()))


def test_alloc_ids_is_an_alias_of_canary_alloc_ids() -> None:
    """One template serves canary and background analysis: both name the allocations analysed."""
    values = PlaceholderValues("j", "n", "g", "d", 1, ("a-1", "b-2"))
    assert render_query('x{a=~"{{alloc_ids}}"}', values) == render_query('x{a=~"{{canary_alloc_ids}}"}', values)
    assert placeholder_problems('x{a=~"{{ alloc_ids }}"}') == []
    with pytest.raises(ValueError, match=r"\{\{alloc_ids\}\} with no allocations"):
        render_query('x{a=~"{{alloc_ids}}"}', PlaceholderValues("j", "n", "g", "d", 1, ()))


# --- the local PromQL check --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("sum(rate(x[1m]))", None),
        ('x{a="}"} # comment with ( unbalanced', None),
        ("x{a=`raw \"`}", None),
        ("sum(rate(x[1m])", "'(' is never closed"),
        ("sum(rate(x[1m])))", "unexpected ')'"),
        ("x{a=\"b}", "unterminated string starting with \""),
        ("x[1m}", "unexpected '}'"),
        ("sum(x) /", "the expression ends with an operator"),
        ("sum(x) by", "the expression ends with an operator"),
        ("  # only a comment", "no expression"),
    ],
)
def test_local_promql_check(query: str, problem: str | None) -> None:
    found = [reason for _offset, reason in promql_problems(query)]
    assert found == ([] if problem is None else [problem])


def test_example_values_render_every_placeholder() -> None:
    query = " ".join("{{" + name + "}}" for name in
                     ("job", "namespace", "group", "deployment_id", "version", "canary_alloc_ids"))  # fmt: skip
    assert "{{" not in render_query(query, EXAMPLE_VALUES)


# --- opting in ---------------------------------------------------------------------------


def test_names_are_a_comma_separated_list() -> None:
    assert parse_names(" http-errors, p99-latency ,,http-errors") == ("http-errors", "p99-latency")
    assert parse_names("") == ()


def test_a_group_meta_key_replaces_the_jobs_for_that_group() -> None:
    job = {
        "Meta": {"gitops.analysis": "http, up"},
        "TaskGroups": [
            {"Name": "web"},
            {"Name": "api", "Meta": {"gitops.analysis": "api-errors"}},
            {"Name": "worker", "Meta": {"gitops.analysis": ""}},  # opts out
        ],
    }
    assert group_analyses(job) == {"web": ("http", "up"), "api": ("api-errors",)}
    assert group_analyses({"TaskGroups": [{"Name": "web"}]}) == {}
    assert group_analyses({"TaskGroups": [{"Name": "g", "Meta": {"x.analysis": "a"}}]}, prefix="x.") == {"g": ("a",)}
