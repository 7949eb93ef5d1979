"""``lint`` on analysis templates and the jobs that opt into them: real files in a
temporary jobs directory, the real command; with ``--prometheus-url``, a real
Prometheus parses the queries (skipped only when none is installed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.support.exporter import running_exporter
from tests.support.prometheus import PROMETHEUS, running_prometheus

TEMPLATES = """\
analysis "http" {
  check "error-rate" {
    query = <<-EOT
      sum(rate(http_requests_total{nomad_job="{{job}}", alloc_id=~"{{canary_alloc_ids}}", code=~"5.."}[1m]))
      / sum(rate(http_requests_total{nomad_job="{{job}}", alloc_id=~"{{canary_alloc_ids}}"}[1m]))
    EOT
    success = "< 0.01"
    count   = 3
  }
}
"""

JOB = """\
job "web" {
  datacenters = ["dc1"]
  meta = {
    "gitops.analysis" = "http"
  }
  update {
    canary = 1
  }
  group "frontend" {
    task "server" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
  group "admin" {
    meta = {
      "gitops.analysis" = "htp, latency"
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""


def write(root: Path, templates: str = TEMPLATES, job: str = JOB) -> None:
    (root / ".reconciler" / "analysis").mkdir(parents=True, exist_ok=True)
    (root / ".reconciler" / "analysis" / "http.hcl").write_text(templates)
    (root / "web.nomad").write_text(job)


def lint(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lint", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_good_templates_and_references_are_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, job=JOB.replace('"htp, latency"', '"http"'))
    assert lint(tmp_path, capsys) == (0, "0 error(s), 0 warning(s)\n", "")


def test_unknown_references_are_errors_at_the_meta_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path)
    code, out, _ = lint(tmp_path, capsys)
    assert code == 1
    assert out.splitlines() == [
        'web.nomad:19: error: job "web": unknown analysis template "htp"; did you mean "http"? [analysis-reference]',
        'web.nomad:19: error: job "web": unknown analysis template "latency" [analysis-reference]',
        "2 error(s), 0 warning(s)",
    ]


def test_template_errors_name_the_template_file_and_hold_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, templates=TEMPLATES.replace('code=~"5.."', 'code=~"5..", g="{{grup}}"'),
          job=JOB.replace('"htp, latency"', '"http"'))  # fmt: skip
    code, out, _ = lint(tmp_path, capsys)
    assert code == 1
    assert out.splitlines() == [
        '.reconciler/analysis/http.hcl:4: error: check "http/error-rate": query: unknown placeholder '
        "{{grup}}; did you mean {{group}}? [analysis]",
        'web.nomad:4: error: job "web": analysis template "http" has errors: '
        '.reconciler/analysis/http.hcl:4: check "http/error-rate": query: unknown placeholder '
        "{{grup}}; did you mean {{group}}? [analysis-reference]",
        "2 error(s), 0 warning(s)",
    ]


def test_a_group_without_canaries_nor_a_rolling_update_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_deployment = "canary = 0\n    max_parallel = 0"  # Nomad deploys nothing: nothing is analysed
    write(tmp_path, job=JOB.replace("canary = 1", no_deployment).replace('"htp, latency"', '"http"'))
    code, out, _ = lint(tmp_path, capsys, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert {(d["path"], d["line"], d["rule"], d["severity"]) for d in document["diagnostics"]} == {
        ("web.nomad", 4, "analysis-no-canary", "warning"),
        ("web.nomad", 20, "analysis-no-canary", "warning"),
    }


def test_a_rolling_update_without_canaries_is_analysed_in_the_background_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, job=JOB.replace("canary = 1", "canary = 0").replace('"htp, latency"', '"http"'))
    code, out, _ = lint(tmp_path, capsys, "--format", "json")
    assert code == 0
    assert json.loads(out)["diagnostics"] == []


@pytest.mark.parametrize("where", ["job", "group"])
def test_nomads_own_auto_promote_beside_analysis_is_an_error(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nomad would promote healthy canaries itself, before any analysis passed."""
    job = JOB.replace('"htp, latency"', '"http"')
    if where == "job":
        job = job.replace("canary = 1", "canary = 1\n    auto_promote = true")
    else:  # the admin group's own update block; frontend keeps the job's (no auto_promote)
        job = job.replace('  group "admin" {\n', '  group "admin" {\n    update {\n      canary = 1\n      auto_promote = true\n    }\n')
    write(tmp_path, job=job)
    code, out, _ = lint(tmp_path, capsys, "--format", "json")
    assert code == 1
    found = {(d["line"], d["severity"]) for d in json.loads(out)["diagnostics"]
             if d["rule"] == "analysis-auto-promote"}  # fmt: skip
    # at each group's Meta line: the job's (4) for frontend, admin's own
    assert found == ({(4, "error"), (20, "error")} if where == "job" else {(23, "error")})


def test_an_unreachable_prometheus_is_a_note_and_the_local_check_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, job=JOB.replace('"htp, latency"', '"http"'))
    code, out, err = lint(tmp_path, capsys, "--prometheus-url", "http://127.0.0.1:9")
    assert (code, out) == (0, "0 error(s), 0 warning(s)\n")
    assert err.startswith("note: Prometheus at http://127.0.0.1:9 did not parse the analysis queries")
    assert err.rstrip().endswith("only the local PromQL check was applied")


def test_the_local_check_names_the_line_of_a_heredoc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, templates=TEMPLATES.replace("[1m]))\n    EOT", "[1m])\n    EOT"),
          job=JOB.replace('"htp, latency"', '"http"'))  # fmt: skip
    code, out, _ = lint(tmp_path, capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        ".reconciler/analysis/http.hcl:5: error: check \"http/error-rate\": query: '(' is never closed [analysis]"
    )


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PROMETHEUS is None:
        pytest.skip("prometheus not on PATH (Debian package 'prometheus'; .ci/run installs it)")
    with running_exporter() as (target, _exporter), running_prometheus(
        target, tmp_path_factory.mktemp("prometheus")
    ) as prom:
        yield prom.url


def test_prometheus_judges_what_the_local_check_lets_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prometheus_url: str
) -> None:
    # balanced and not ending in an operator, so the local check accepts it; PromQL does not
    bad = TEMPLATES.replace("[1m]))\n      /", "[1m])) /\n      /")
    write(tmp_path, templates=bad, job=JOB.replace('"htp, latency"', '"http"'))
    assert lint(tmp_path, capsys)[0] == 0
    code, out, err = lint(tmp_path, capsys, "--prometheus-url", prometheus_url)
    assert (code, err) == (1, "")
    (finding, summary) = out.splitlines()
    assert finding.startswith(
        '.reconciler/analysis/http.hcl:4: error: check "http/error-rate": Prometheus: '
    )
    assert "parse error: unexpected <op:/>" in finding and finding.endswith("[analysis-promql]")
    assert summary == "1 error(s), 0 warning(s)"
    write(tmp_path, job=JOB.replace('"htp, latency"', '"http"'))
    assert lint(tmp_path, capsys, "--prometheus-url", prometheus_url) == (0, "0 error(s), 0 warning(s)\n", "")
