"""``nomad-reconciler render`` replays the corpus' variable overrides.

Each recorded ``nomad job run -output`` call with ``-var``/``-var-file`` and
``NOMAD_VAR_*`` is replayed through ``reconciler.cli.main`` in a temporary copy
of the files (so relative var-file paths resolve as they did for Nomad), and
its stdout must equal Nomad's byte for byte; the override cases Nomad refused
must exit 1 with Nomad's diagnostic text.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.commands.render import format_api_json

CORPUS = Path(__file__).parent.parent / "golden" / "jobspec"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
OVERRIDES = [
    pytest.param(entry["file"], override, id=f"{entry['file']}:{override['name']}")
    for entry in MANIFEST["valid"]
    for override in entry.get("overrides", [])
]


def render_argv(cli_args: list[str]) -> list[str]:
    """``nomad job run -output [-var k=v] [-var-file=F] FILE`` → ``render FILE --var ...``."""
    args = cli_args[cli_args.index("-output") + 1 :]
    out: list[str] = []
    i = 0
    while i < len(args) - 1:
        arg = args[i]
        flag, eq, value = arg.partition("=")
        if flag in ("-var", "-var-file"):
            if not eq:
                i += 1
                value = args[i]
            out += ["--" + flag.lstrip("-"), value]
        else:
            raise AssertionError(f"unexpected nomad flag {arg}")
        i += 1
    return ["render", args[-1], *out]


@pytest.fixture
def corpus_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for item in CORPUS.iterdir():
        if item.suffix in (".nomad", ".hcl") or item.name.endswith(".vars.json"):
            shutil.copy(item, tmp_path / item.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_overrides_cover_every_recorded_case() -> None:
    assert len(OVERRIDES) == 12
    names = {p.values[1]["name"] for p in OVERRIDES}
    assert {"var-cli-fails-validation", "var-cli-undeclared", "var-cli-wrong-type", "precedence"} <= names


@pytest.mark.parametrize(("job_file", "override"), OVERRIDES)
def test_override_replayed_through_render(
    job_file: str,
    override: dict[str, Any],
    corpus_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in override["env"].items():
        monkeypatch.setenv(name, value)
    code = main(render_argv(override["cli_args"]))
    captured = capsys.readouterr()
    if "output" in override:
        assert code == 0, captured.err
        assert captured.out == (CORPUS / override["output"]).read_text()
        return
    recorded = json.loads((CORPUS / override["error"]).read_text())["cli_run_output"]
    assert code == recorded["exit_code"] == 1
    assert captured.out == ""
    # Nomad: "Error getting job struct: ...from FILE:\n<position>: <summary>; <detail>"
    diagnostic = recorded["stderr"].split(":\n", 1)[1]
    diagnostic = re.sub(r"^(:0,0-0|<nil>): ", "", diagnostic).rstrip("\n")
    diagnostic = re.sub(r"(\d+,\d+)-\d+", r"\1", diagnostic)  # we report start positions only
    assert captured.err.startswith(f"Error: {job_file}")
    assert diagnostic in captured.err


def test_render_prints_nomad_cli_output(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "24-driver-configs.nomad"]) == 0
    assert capsys.readouterr().out == (CORPUS / "24-driver-configs.output.json").read_text()


def test_undeclared_env_variable_is_ignored(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOMAD_VAR_nobody_declared_this", "x")
    assert main(["render", "01-minimal-service.nomad"]) == 0
    assert capsys.readouterr().out == (CORPUS / "01-minimal-service.output.json").read_text()


def test_env_beats_default_and_var_file_beats_env(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOMAD_VAR_replicas", "2")
    assert main(["render", "02-variables-typed.nomad"]) == 0
    assert json.loads(capsys.readouterr().out)["Job"]["TaskGroups"][0]["Count"] == 2
    assert main(["render", "02-variables-typed.nomad", "--var-file", "02-variables-typed.vars.hcl"]) == 0
    assert json.loads(capsys.readouterr().out)["Job"]["TaskGroups"][0]["Count"] == 5


@pytest.mark.parametrize(
    "name", [e["file"] for e in MANIFEST["invalid"] if e["fails_at"] == "parse"]
)
def test_bad_file_reports_file_line_column_and_exits_1(
    name: str, corpus_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = json.loads((CORPUS / name.replace(".nomad", ".error.json")).read_text())
    position = re.search(re.escape(name) + r":(\d+,\d+)-\d+: ([^;]+);", recorded["cli_run_output"]["stderr"])
    assert position
    assert main(["render", name]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"Error: {name}:{position.group(1)}: {position.group(2)}; ")


def test_missing_file_is_a_clear_error(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "no-such-job.nomad"]) == 1
    assert capsys.readouterr().err.startswith("Error: no-such-job.nomad: Failed to read job file")


def test_json_job_goes_through_the_json_parser(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = (CORPUS / "01-minimal-service.output.json").read_text()
    (corpus_copy / "minimal.json").write_text(recorded)
    assert main(["render", "minimal.json"]) == 0
    job = json.loads(capsys.readouterr().out)["Job"]
    assert job["ID"] == "s01-minimal"
    assert job["TaskGroups"][0]["Tasks"][0]["Config"] == {"args": ["3600"], "command": "/bin/sleep"}


def test_variables_are_refused_for_json_jobs(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (corpus_copy / "minimal.json").write_text((CORPUS / "01-minimal-service.output.json").read_text())
    assert main(["render", "minimal.json", "--var", "x=1"]) == 1
    assert "--var and --var-file apply only to HCL2" in capsys.readouterr().err


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["render", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for word in ("FILE", "--var", "--var-file", "NOMAD_VAR_", "nomad job run -output"):
        assert word in text


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (2.5, "2.5"),
        (1e16, "10000000000000000"),  # Go prints fixed notation below 1e21
        (0.00001, "0.00001"),
        (1.5e-7, "1.5e-7"),  # and e-notation without a padded exponent below 1e-6
        (1e21, "1e+21"),
        (1.0, "1"),
        (-0.5, "-0.5"),
    ],
)
def test_floats_are_printed_like_go(value: float, printed: str) -> None:
    assert format_api_json({"x": value}) == '{\n    "Job": {\n        "x": ' + printed + "\n    }\n}"


def test_strings_and_empty_containers_are_printed_like_go() -> None:
    text = format_api_json({"s": "<a&b> café", "l": [], "m": {}, "n": None, "b": True})
    assert text == (
        '{\n    "Job": {\n        "s": "\\u003ca\\u0026b\\u003e café",\n        "l": [],\n'
        '        "m": {},\n        "n": null,\n        "b": true\n    }\n}'
    )


def test_render_caps_the_job_file_and_the_files_it_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = 'job "web" {\n  datacenters = ["dc1"]\n  meta {\n    blob = file("blob.txt")\n  }\n' \
        '  group "g" {\n    task "t" {\n      driver = "exec"\n      config {\n' \
        '        command = "/bin/true"\n      }\n    }\n  }\n}\n'
    (tmp_path / "web.nomad").write_text(job)
    (tmp_path / "blob.txt").write_text("x" * 2000)
    path = str(tmp_path / "web.nomad")

    assert main(["render", path, "--max-file-size", "1KiB"]) == 1
    err = capsys.readouterr().err
    assert "web.nomad:4" in err and "blob.txt is 2000 bytes, more than the 1024-byte limit" in err

    assert main(["render", path, "--max-file-size", "100"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: The file is {len(job)} bytes, more than the 100-byte limit" in err, err

    assert main(["render", path]) == 0  # the default leaves room for real jobs
    assert json.loads(capsys.readouterr().out)["Job"]["Meta"]["blob"] == "x" * 2000
