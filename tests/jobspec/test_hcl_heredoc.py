"""Heredoc templates against what Nomad 1.0.18's CLI printed for them.

``tests/golden/jobspec/heredoc/`` holds job files whose heredocs mix template
directives (``%{ if }``, ``%{ else }``, ``%{ for }``, nested), ``~`` strip
markers on either side, ``$${``/``%%{`` escapes, tabs and spaces, blank and
whitespace-only lines and interpolations at line starts, in both ``<<-`` and
``<<``, each with the exact stdout of ``nomad job run -output FILE`` from a
real Nomad 1.0.18 binary (run in that directory, no ``NOMAD_VAR_*`` set).

What they pin down is hclsyntax's token-level behaviour: ``<<-`` removes the
common indentation only from literals that start a line, so a line after a
``~}`` that ate the newline keeps its indentation, and a ``%{~`` that trimmed
a line's indentation away makes the common indentation zero; a strip marker
trims only the literal on its own line (plus, at column 0, the newline before).
The ``render`` command and the directory loader must both print those bytes.

``05-runtime-interpolations`` adds names Nomad leaves for run time (``attr``,
``node``, ``NOMAD_*``): Nomad copies them from the file with its own scan
around the reference, so spacing inside ``${ }`` and some ``~`` survive.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.commands.render import format_api_json
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs

HEREDOCS = Path(__file__).parent.parent / "golden" / "jobspec" / "heredoc"
MANIFEST = json.loads((HEREDOCS / "manifest.json").read_text())
FILES = [entry["file"] for entry in MANIFEST["valid"]]


def recorded(name: str) -> str:
    return (HEREDOCS / name.replace(".nomad", ".output.json")).read_text()


def test_manifest_lists_every_recorded_file() -> None:
    assert sorted(FILES) == sorted(p.name for p in HEREDOCS.glob("*.nomad"))
    assert all((HEREDOCS / e["output"]).is_file() for e in MANIFEST["valid"])


@pytest.mark.parametrize("name", FILES)
def test_converter_prints_nomads_bytes(name: str) -> None:
    job = convert_hcl((HEREDOCS / name).read_text(), path=name, base_dir=str(HEREDOCS))
    assert format_api_json(job) + "\n" == recorded(name)


@pytest.mark.parametrize("name", FILES)
def test_render_command_prints_nomads_bytes(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(HEREDOCS)
    for key in [k for k in os.environ if k.startswith("NOMAD_VAR_")]:
        monkeypatch.delenv(key)
    assert main(["render", name]) == 0
    assert capsys.readouterr().out == recorded(name)


def test_loader_reads_the_same_jobs_as_render(tmp_path: Path) -> None:
    for name in FILES:
        shutil.copy(HEREDOCS / name, tmp_path / name)
    snapshot = load_directory(tmp_path, inputs=VariableInputs(), workers=1)
    assert snapshot.errors == ()
    by_path = {job.path: job for job in snapshot.jobs}
    assert sorted(by_path) == sorted(FILES)
    for name in FILES:
        assert format_api_json(dict(by_path[name].job)) + "\n" == recorded(name), name


def _templates(name: str) -> dict[str, str]:
    job = json.loads(recorded(name))["Job"]
    return {t["DestPath"]: t["EmbeddedTmpl"] for t in job["TaskGroups"][0]["Tasks"][0]["Templates"]}


def test_recordings_show_the_token_level_rules() -> None:
    """The behaviours the converter must reproduce, read straight from Nomad's output."""
    if_else = _templates("01-if-else.nomad")
    # No markers: every line is flushed.
    assert if_else["local/plain-if.conf"] == "listen 8080\n\nssl on\n\ndone\n"
    # ~} ate the newline: the next line does not start a line, so keeps its indentation.
    assert if_else["local/right-strip.conf"] == "listen 8080\n          ssl on\n          done\n"
    # %{~ trimmed a line-leading literal to nothing: the common indentation is zero.
    assert if_else["local/left-strip.conf"].startswith("          listen 8080\n")
    plain = _templates("04-plain-heredoc.nomad")
    # ~} strips only to the end of its own line.
    assert plain["local/blank-after-strip.txt"] == "\nkept blank line above\nend\n"


def _heredoc(source: str, *, flush: bool = True) -> ast.Template:
    marker = "<<-EOT" if flush else "<<EOT"
    body = ast.parse_body(f"x = {marker}\n{source}EOT\n")
    expr = body.attributes[0].expr
    assert isinstance(expr, ast.Template)
    return expr


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        # whitespace-only lines neither count nor lose their whitespace
        ("    a\n  \n      b\n", ("a\n  \n  b\n",)),
        # U+001C is not a space for Go, so ~ stops at it (Python's isspace would eat it)
        ('  x \x1c ${~"y"}\n', ("x \x1c", ast.Interp, "\n")),
        # an empty heredoc
        ("", ()),
    ],
)
def test_flush_edge_cases(source: str, parts: tuple[object, ...]) -> None:
    got = _heredoc(source).parts
    assert len(got) == len(parts)
    for have, want in zip(got, parts, strict=True):
        if isinstance(want, type):
            assert isinstance(have, want)
        else:
            assert have == want


def test_interpolation_alone_stays_typed_unless_trimming_left_an_empty_literal() -> None:
    assert _heredoc("${1}\n", flush=False).single_interp is None  # its line's newline is text
    quoted = ast.parse_expression('"${1}"')
    assert isinstance(quoted, ast.Template) and quoted.single_interp is not None
    trimmed = ast.parse_expression('"${1 ~} "')
    assert isinstance(trimmed, ast.Template) and trimmed.single_interp is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"${attr.kernel.name}"', "${attr.kernel.name}"),
        # spaces inside ${ } are copied from the file
        ('"${ attr.kernel.name }"', "${ attr.kernel.name }"),
        ('"${  PATH   }"', "${  PATH   }"),
        # Nomad's forward scan starts one past the name: ~} right after it is kept ...
        ('"${NOMAD_ALLOC_INDEX~}-end"', "${NOMAD_ALLOC_INDEX~}-end"),
        # ... while a space before ~ ends the copy (and ~ then trims the next literal)
        ('"${node.unique.name ~} x"', "${node.unique.name}x"),
        # a ~ before the name: no ${ directly before it, so the name is wrapped anew
        ('"x ${~ NOMAD_ALLOC_ID}"', "x${NOMAD_ALLOC_ID}"),
        ('"${meta["rack"]}"', '${meta["rack"]}'),
        # inside a call the reference is not enclosed by ${ itself
        ('"${upper(attr.kernel.name)}"', "${ATTR.KERNEL.NAME}"),
        # a bare reference, no template at all
        ("attr.kernel.name", "${attr.kernel.name}"),
    ],
)
def test_names_nomad_leaves_for_run_time_are_copied_as_nomad_copies_them(source: str, expected: str) -> None:
    text = f'job "j" {{\n  datacenters = ["dc1"]\n  meta {{\n    k = {source}\n  }}\n}}\n'
    job = convert_hcl(text, path="j.nomad", base_dir=".")
    assert job["Meta"] == {"k": expected}


def test_runtime_reference_text_in_a_heredoc_points_into_the_file() -> None:
    text = (
        'job "j" {\n  datacenters = ["dc1"]\n  meta {\n    k = <<-EOT\n'
        "      a ${ NOMAD_ALLOC_ID }\n      %{ if true }${attr.x~}%{ endif }\n    EOT\n  }\n}\n"
    )
    job = convert_hcl(text, path="j.nomad", base_dir=".")
    assert job["Meta"] == {"k": "a ${ NOMAD_ALLOC_ID }\n${attr.x~}\n"}  # as nomad job run -output
