"""Input variables and locals: declarations, outside values, precedence, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import JobEvaluationError, JobSpecError, JobSyntaxError
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.variables import VariableInputs

DECLS = """
variable "name" {
  type    = string
  default = "dflt"
}
variable "count" {
  type    = number
  default = 1
  validation {
    condition     = var.count < 10
    error_message = "Count must be below 10."
  }
}
variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}
variable "labels" {
  type    = map(string)
  default = { a = "1" }
}
variable "untyped" {
  default = "u"
}
"""

JOB = """
job "j" {
  datacenters = var.dcs
  meta {
    name    = var.name
    count   = var.count
    labels  = jsonencode(var.labels)
    untyped = jsonencode(var.untyped)
  }
}
"""


def meta(text: str = DECLS + JOB, **inputs: Any) -> dict[str, str]:
    job = convert_hcl(text, path="job.nomad", inputs=VariableInputs(**inputs), allow_fs=False)
    return dict(job["Meta"], dcs=",".join(job["Datacenters"]))


def test_defaults() -> None:
    assert meta() == {"name": "dflt", "count": "1", "labels": '{"a":"1"}', "untyped": '"u"', "dcs": "dc1"}


def test_cli_values_simple_types_are_literal_and_complex_types_are_hcl() -> None:
    got = meta(cli=("name=[1]", "count=7", "dcs=[\"x\", \"y\"]", "labels={b = 2}", "untyped=5"))
    assert got["name"] == "[1]"  # string variable: the text as is
    assert got["count"] == "7"
    assert got["dcs"] == "x,y"
    assert got["labels"] == '{"b":"2"}'  # converted to map(string)
    assert got["untyped"] == '"5"'  # untyped: a literal string, not the number 5


def test_value_containing_equals_sign() -> None:
    assert meta(cli=("name=a=b",))["name"] == "a=b"


def test_environment_values_and_undeclared_environment_ignored() -> None:
    env = {"NOMAD_VAR_count": "4", "NOMAD_VAR_labels": "{z = \"q\"}", "NOMAD_VAR_unknown": "x", "PATH": "/bin"}
    got = meta(env=env)
    assert got["count"] == "4"
    assert got["labels"] == '{"z":"q"}'


def test_precedence_cli_over_file_over_env_over_default(tmp_path: Path) -> None:
    first = tmp_path / "a.hcl"
    first.write_text('count = 5\nname = "file-a"\n')
    second = tmp_path / "b.json"
    second.write_text(json.dumps({"name": "file-b"}))
    env = {"NOMAD_VAR_count": "2", "NOMAD_VAR_name": "env", "NOMAD_VAR_untyped": "from-env"}
    got = meta(cli=("count=9",), files=(str(first), str(second)), env=env)
    assert got["count"] == "9"  # -var beats everything
    assert got["name"] == "file-b"  # later var file beats earlier one and the environment
    assert got["untyped"] == '"from-env"'  # environment beats the default


def test_json_var_file_with_complex_values(tmp_path: Path) -> None:
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({"dcs": ["j1", "j2"], "labels": {"k": 1}, "count": 3}))
    got = meta(files=(str(path),))
    assert (got["dcs"], got["labels"], got["count"]) == ("j1,j2", '{"k":"1"}', "3")


def test_undeclared_cli_variable_is_an_error() -> None:
    with pytest.raises(JobEvaluationError) as info:
        meta(cli=("nope=1",))
    assert info.value.reason.startswith('Undefined -var variable; A "nope" variable was passed in the command line')
    assert info.value.path == "job.nomad"


def test_undeclared_variable_in_var_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "vars.hcl"
    path.write_text('name = "x"\n\nnope = 1\n')
    with pytest.raises(JobEvaluationError) as info:
        meta(files=(str(path),))
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert 'A "nope" variable was set but was not found' in info.value.reason


def test_variable_block_in_var_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "vars.hcl"
    path.write_text('variable "x" {}\n')
    with pytest.raises(JobSyntaxError) as info:
        meta(files=(str(path),))
    assert info.value.reason.startswith("Variable declaration in a .var file")


def test_missing_var_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JobEvaluationError) as info:
        meta(files=(str(tmp_path / "absent.hcl"),))
    assert info.value.path == str(tmp_path / "absent.hcl")
    assert "Failed to read variables file" in info.value.reason


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"cli": ("count=many",)}, "Invalid argument value for -var variable; The received arg value for count is not compatible with the variable's type constraint: a number is required."),
        ({"env": {"NOMAD_VAR_count": "x"}}, "Invalid value for variable; The value for count is not compatible with the variable's type constraint: a number is required."),
        ({"cli": ("dcs=[",)}, "Invalid value for -var variable dcs"),
        ({"cli": ("count=50",)}, "Invalid value for cmd variable; Count must be below 10.\n\nThis was checked by the validation rule at job.nomad:9,3."),
        ({"env": {"NOMAD_VAR_count": "50"}}, "Invalid value for env variable; Count must be below 10."),
        ({"cli": ("novalue",)}, "Invalid -var option"),
    ],
)
def test_bad_outside_values(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(JobSpecError) as info:
        meta(**inputs)
    assert message in info.value.reason


def test_default_is_converted_to_the_declared_type() -> None:
    text = 'variable "ports" {\n  type = list(string)\n  default = [80, 443]\n}\njob "j" {\n  meta { p = join(",", var.ports) }\n}\n'
    assert convert_hcl(text)["Meta"] == {"p": "80,443"}


@pytest.mark.parametrize(
    ("decl", "message", "line"),
    [
        ('variable "x" {\n  type = number\n  default = "abc"\n}', "Invalid default value for variable", 3),
        ('variable "x" {\n  default = 0\n  validation {\n    condition = var.x > 0\n    error_message = "Must be positive."\n  }\n}', "Invalid value for default variable; Must be positive.", 2),
        ('variable "x" {\n  default = 1\n  sensitive = true\n}', 'Unsupported argument; An argument named "sensitive" is not expected here.', 3),
        ('variable "x" {\n  default = 1\n  validation {\n    condition = var.x > var.y\n    error_message = "Must be set."\n  }\n}', "can only refer to the variable itself", 4),
        ('variable "x" {\n  default = 1\n  validation {\n    condition = true\n    error_message = "Must be set."\n  }\n}', "must refer to var.x in order to test incoming values", 4),
        ('variable "x" {\n  type = strng\n}', "Invalid type specification", 2),
        ('variable "x" {}\nvariable "x" {}', "Duplicate variable", 2),
        ('variable "x" {\n  default = 1\n  validation {\n    condition = var.x > 0\n    error_message = "too small"\n  }\n}', "Validation error message must be at least one full English sentence", 5),
    ],
)
def test_bad_declarations(decl: str, message: str, line: int) -> None:
    with pytest.raises(JobSpecError) as info:
        convert_hcl(decl + '\njob "j" {\n  meta { v = "x" }\n}\n', path="d.nomad")
    assert message in info.value.reason
    assert (info.value.path, info.value.line) == ("d.nomad", line)


def test_unset_variable_is_an_error_even_when_unused() -> None:
    text = 'job "j" {\n  datacenters = ["dc1"]\n}\nvariable "x" {\n  type = string\n}\n'
    with pytest.raises(JobEvaluationError) as info:
        convert_hcl(text, path="u.nomad")
    assert info.value.reason.startswith('Unset variable "x"; A used variable must be set or have a default value')
    assert (info.value.path, info.value.line) == ("u.nomad", 4)
    used = text.replace('["dc1"]', "[var.x]")
    assert convert_hcl(used, inputs=VariableInputs(cli=("x=set",)))["Datacenters"] == ["set"]


def test_untyped_variable_without_default_takes_outside_values_literally() -> None:
    text = 'variable "x" {}\njob "j" {\n  meta { x = jsonencode(var.x) }\n}\n'
    assert convert_hcl(text, inputs=VariableInputs(cli=("x=[1]",)))["Meta"] == {"x": '"[1]"'}


def test_any_typed_variable_parses_outside_values_as_hcl() -> None:
    text = 'variable "x" {\n  type = any\n}\njob "j" {\n  meta { x = jsonencode(var.x) }\n}\n'
    assert convert_hcl(text, inputs=VariableInputs(cli=("x=[1]",)))["Meta"] == {"x": "[1]"}


def test_variables_block_declares_with_inferred_defaults() -> None:
    text = 'variables {\n  a = 1\n  b = ["x"]\n}\njob "j" {\n  meta { v = "${var.a}-${var.b[0]}" }\n}\n'
    assert convert_hcl(text)["Meta"] == {"v": "1-x"}
    assert convert_hcl(text, inputs=VariableInputs(cli=("a=2",)))["Meta"] == {"v": "2-x"}


def test_locals_in_any_order_and_across_blocks() -> None:
    text = (
        'locals {\n  c = "${local.b}!"\n}\n'
        'locals {\n  b = upper(local.a)\n  a = "x${var.v}"\n}\n'
        'variable "v" {\n  default = 1\n}\n'
        'job "j" {\n  meta { c = local.c }\n}\n'
    )
    assert convert_hcl(text)["Meta"] == {"c": "X1!"}


def test_local_cycle_is_an_error() -> None:
    text = 'locals {\n  a = local.b\n  b = local.a\n}\njob "j" {}\n'
    with pytest.raises(JobEvaluationError) as info:
        convert_hcl(text, path="c.nomad")
    assert "Cycle in local values" in info.value.reason
    assert info.value.path == "c.nomad"


def test_untyped_variable_takes_the_type_of_its_default() -> None:
    text = (
        'variable "n" {\n  default = 1\n}\nvariable "pair" {\n  default = ["a", "b"]\n}\n'
        'job "j" {\n  meta {\n    n = jsonencode(var.n)\n    pair = jsonencode(var.pair)\n  }\n}\n'
    )
    got = convert_hcl(text, inputs=VariableInputs(cli=("n=5", 'pair=["c", "d"]')))["Meta"]
    assert got == {"n": "5", "pair": '["c","d"]'}  # the number 5, not the string "5"
    with pytest.raises(JobEvaluationError) as info:
        convert_hcl(text, inputs=VariableInputs(cli=("n=five",)))
    assert "not compatible with the variable's type constraint: a number is required" in info.value.reason


def test_bool_values_from_outside_are_hcl_expressions() -> None:
    text = 'variable "b" {\n  type = bool\n  default = false\n}\njob "j" {\n  meta { b = var.b ? "yes" : "no" }\n}\n'
    assert convert_hcl(text, inputs=VariableInputs(cli=("b=true",)))["Meta"] == {"b": "yes"}
    assert convert_hcl(text, inputs=VariableInputs(env={"NOMAD_VAR_b": "1 == 1"}))["Meta"] == {"b": "yes"}


def test_var_file_value_failing_validation_points_into_the_var_file(tmp_path: Path) -> None:
    path = tmp_path / "v.hcl"
    path.write_text('name = "n"\ncount = 99\n')
    with pytest.raises(JobEvaluationError) as info:
        meta(files=(str(path),))
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 2, 9)
    assert info.value.reason.startswith("Invalid value for varfile variable; Count must be below 10.")


def test_var_file_type_error_points_into_the_var_file(tmp_path: Path) -> None:
    path = tmp_path / "v.hcl"
    path.write_text('\ndcs = "not-a-list"\n')
    with pytest.raises(JobEvaluationError) as info:
        meta(files=(str(path),))
    assert (info.value.path, info.value.line) == (str(path), 2)
    assert info.value.reason.startswith("Invalid value for variable; The value for dcs is not compatible")
