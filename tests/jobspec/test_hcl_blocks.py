"""Block decoding beyond the corpus: dynamic blocks, jobspec rules, structural errors."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import JobEvaluationError, JobSpecError, JobSyntaxError
from reconciler.jobspec.hcl_convert import convert_hcl

MIN_TASK = 'task "t" {\n  driver = "raw_exec"\n  config { command = "/bin/true" }\n}'


def job(body: str, *, prelude: str = "") -> dict[str, Any]:
    return convert_hcl(f'{prelude}\njob "j" {{\n{body}\n}}\n', path="b.nomad", allow_fs=False)


def task(body: str, *, prelude: str = "") -> dict[str, Any]:
    result: dict[str, Any] = job(f'group "g" {{\n task "t" {{\n{body}\n }}\n}}', prelude=prelude)["TaskGroups"][0]["Tasks"][0]
    return result


def test_label_sets_id_and_name_unless_given() -> None:
    assert (job("")["ID"], job("")["Name"]) == ("j", "j")
    assert (job('name = "other"')["ID"], job('name = "other"')["Name"]) == ("j", "other")
    assert job('id = "explicit"')["ID"] == "explicit"


def test_nested_dynamic_blocks_with_iterators_and_labels() -> None:
    prelude = 'variable "groups" {\n  default = { web = ["http", "admin"], api = ["grpc"] }\n}'
    got = job(
        """
  dynamic "group" {
    for_each = var.groups
    iterator = g
    labels   = ["grp-${g.key}"]
    content {
      network {
        dynamic "port" {
          for_each = g.value
          labels   = [port.value]
          content {
            to = 8000 + port.key
          }
        }
      }
      task "t" {
        driver = "raw_exec"
        env { GROUP = g.key }
      }
    }
  }
""",
        prelude=prelude,
    )
    groups = got["TaskGroups"]
    assert [g["Name"] for g in groups] == ["grp-api", "grp-web"]  # map keys in sorted order
    web_ports = groups[1]["Networks"][0]["DynamicPorts"]
    assert [(p["Label"], p["To"]) for p in web_ports] == [("http", 8000), ("admin", 8001)]
    assert groups[0]["Tasks"][0]["Env"] == {"GROUP": "api"}


def test_dynamic_over_list_of_objects_keeps_order() -> None:
    got = task(
        """
driver = "raw_exec"
dynamic "constraint" {
  for_each = [{ a = "${attr.x}", v = "1" }, { a = "${attr.y}", v = "2" }]
  content {
    attribute = constraint.value.a
    value     = constraint.value.v
  }
}
"""
    )
    assert got["Constraints"] == [
        {"LTarget": "${attr.x}", "RTarget": "1", "Operand": "="},
        {"LTarget": "${attr.y}", "RTarget": "2", "Operand": "="},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('dynamic "constraint" {\n  content {}\n}', 'The argument "for_each" is required'),
        ('dynamic "constraint" {\n  for_each = null\n  content {}\n}', "Cannot use a null value in for_each"),
        ('dynamic "constraint" {\n  for_each = [1]\n}', 'A "content" block is required'),
        ('dynamic "bogus" {\n  for_each = [1]\n  content {}\n}', 'Blocks of type "bogus" are not expected here.'),
    ],
)
def test_bad_dynamic_blocks(body: str, message: str) -> None:
    with pytest.raises(JobSpecError) as info:
        job(body)
    assert message in info.value.reason
    assert info.value.line is not None


def test_task_directly_under_job_becomes_first_group() -> None:
    got = job(f'group "explicit" {{\n{MIN_TASK}\n}}\n{MIN_TASK.replace(chr(34) + "t" + chr(34), chr(34) + "solo" + chr(34))}')
    assert [g["Name"] for g in got["TaskGroups"]] == ["solo", "explicit"]
    assert got["TaskGroups"][0]["Tasks"][0]["Name"] == "solo"
    assert got["TaskGroups"][0]["Count"] is None


def test_job_vault_is_copied_into_tasks_without_one() -> None:
    got = job(
        'vault {\n  policies = ["p"]\n}\ngroup "g" {\n  task "a" {}\n  task "b" {\n    vault {\n      policies = ["own"]\n      change_mode = "noop"\n    }\n  }\n}'
    )
    a, b = got["TaskGroups"][0]["Tasks"]
    assert a["Vault"] == {"Policies": ["p"], "Namespace": None, "Env": True, "ChangeMode": "restart", "ChangeSignal": None}
    assert b["Vault"]["Policies"] == ["own"] and b["Vault"]["ChangeMode"] == "noop"


def test_ports_split_into_reserved_and_dynamic() -> None:
    got = job('group "g" {\n  network {\n    port "a" { static = 80 }\n    port "b" { to = 8080 }\n  }\n}')
    net = got["TaskGroups"][0]["Networks"][0]
    assert net["ReservedPorts"] == [{"Label": "a", "Value": 80, "To": 0, "HostNetwork": ""}]
    assert net["DynamicPorts"] == [{"Label": "b", "Value": 0, "To": 8080, "HostNetwork": ""}]
    only_static = job('group "g" {\n  network {\n    port "a" { static = 80 }\n  }\n}')
    assert only_static["TaskGroups"][0]["Networks"][0]["DynamicPorts"] is None


def test_constraint_and_affinity_shorthands() -> None:
    got = job(
        'constraint {\n  attribute = "${attr.a}"\n  semver = ">= 1.0"\n}\n'
        'constraint {\n  distinct_property = "${meta.rack}"\n  value = "2"\n}\n'
        'constraint {\n  attribute = "${attr.b}"\n  is_set = true\n}\n'
        'affinity {\n  attribute = "${attr.c}"\n  set_contains_all = "x,y"\n  weight = 20\n}'
    )
    assert got["Constraints"] == [
        {"LTarget": "${attr.a}", "RTarget": ">= 1.0", "Operand": "semver"},
        {"LTarget": "${meta.rack}", "RTarget": "2", "Operand": "distinct_property"},
        {"LTarget": "${attr.b}", "RTarget": "", "Operand": "="},  # is_set is not mapped by Nomad 1.0
    ]
    assert got["Affinities"] == [{"LTarget": "${attr.c}", "RTarget": "x,y", "Operand": "set_contains_all", "Weight": 20}]


def test_parser_defaults_for_template_periodic_and_scaling() -> None:
    got = job(
        'type = "batch"\nperiodic {\n  cron = "@daily"\n}\n'
        'group "g" {\n  scaling {\n    max = 3\n  }\n  task "t" {\n    template {\n      data = "x"\n      destination = "local/x"\n    }\n  }\n}'
    )
    assert got["Periodic"] == {"Enabled": None, "Spec": "@daily", "SpecType": "cron", "ProhibitOverlap": None, "TimeZone": None}
    group = got["TaskGroups"][0]
    assert group["Scaling"]["Type"] == "horizontal"
    template = group["Tasks"][0]["Templates"][0]
    assert (template["ChangeMode"], template["Perms"], template["Splay"]) == ("restart", "0644", 5_000_000_000)
    assert job('periodic {\n  prohibit_overlap = true\n}')["Periodic"]["SpecType"] is None


def test_durations_strings_and_numbers_as_nanoseconds() -> None:
    got = task('driver = "x"\nkill_timeout = "1m30s"\nshutdown_delay = 250')
    assert (got["KillTimeout"], got["ShutdownDelay"]) == (90_000_000_000, 250)


def test_driver_config_shapes() -> None:
    got = task(
        'driver = "docker"\nconfig {\n'
        '  typed  = "${1 + 1}"\n  text = "n=${1 + 1}"\n  obj = { "com.x" = "y" }\n  ref = local.o\n'
        '  block { a = 1 }\n  block { a = 2.5 }\n  labelled "l" { b = true }\n  nested {\n    inner { deep = "z" }\n  }\n}',
        prelude='locals {\n  o = { k = "v" }\n}',
    )
    assert got["Config"] == {
        "block": [{"a": 1}, {"a": 2.5}],
        "labelled": [{"l": [{"b": True}]}],
        "nested": [{"inner": [{"deep": "z"}]}],
        "obj": [{"com.x": "y"}],  # an object literal is wrapped like a block
        "ref": {"k": "v"},  # an expression that evaluates to an object is not
        "text": "n=2",
        "typed": 2,
    }


@pytest.mark.parametrize(
    ("body", "line", "column", "name"),
    [
        (
            'group "g" {\n  task "t" {\n    driver = "docker"\n    config {\n'
            '      nested { inner { deep = "z" } }\n    }\n  }\n}',
            7, 16, "inner",
        ),
        ('group "g" { task "t" {\n    driver = "x"\n  }\n}', 3, 13, "task"),
    ],
)  # fmt: skip
def test_a_single_line_block_holds_one_argument_never_a_block(
    body: str, line: int, column: int, name: str
) -> None:
    # hclsyntax's rule, in the words and at the place a real Nomad 1.0.18 gives
    # (`nomad job run -output`: "ol3.nomad:6,18-25: Argument definition required; ...")
    with pytest.raises(JobSyntaxError) as caught:
        job(body)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value).endswith(
        "Argument definition required; A single-line block definition can contain only a single "
        f'argument. If you meant to define argument "{name}", use an equals sign to assign it a '
        "value. To define a nested block, place it on a line of its own within its parent block."
    )


def test_meta_and_env_values_are_strings_in_both_forms() -> None:
    got = task('driver = "x"\nmeta {\n  n = 1\n  b = true\n  f = 1.5\n}\nenv = {\n  "A.B" = 10\n  C = "${NOMAD_TASK_DIR}/x"\n}')
    assert got["Meta"] == {"b": "true", "f": "1.5", "n": "1"}
    assert got["Env"] == {"A.B": "10", "C": "${NOMAD_TASK_DIR}/x"}


def test_header_and_getter_maps() -> None:
    got = job(
        'group "g" {\n  service {\n    check {\n      type = "http"\n      header { X-A = ["1", "2"] }\n    }\n  }\n'
        '  task "t" {\n    artifact {\n      source = "s"\n      options { checksum = "md5:x" }\n    }\n  }\n}'
    )
    group = got["TaskGroups"][0]
    assert group["Services"][0]["Checks"][0]["Header"] == {"X-A": ["1", "2"]}
    assert group["Tasks"][0]["Artifacts"][0]["GetterOptions"] == {"checksum": "md5:x"}


def test_values_are_converted_to_field_types() -> None:
    got = job('priority = "70"\nall_at_once = "true"\ngroup "g" {\n  count = "2"\n  service {\n    port = 8080\n  }\n}')
    assert (got["Priority"], got["AllAtOnce"]) == (70, True)
    assert got["TaskGroups"][0]["Count"] == 2
    assert got["TaskGroups"][0]["Services"][0]["PortLabel"] == "8080"


@pytest.mark.parametrize(
    ("text", "error", "message", "line"),
    [
        ('job "j" {\n  bogus = 1\n}', JobSyntaxError, 'Unsupported argument; An argument named "bogus" is not expected here.', 2),
        ('job "j" {\n  group "g" {\n    foo {}\n  }\n}', JobSyntaxError, 'Unsupported block type; Blocks of type "foo" are not expected here.', 3),
        ('job "j" {\n  update {}\n  update {}\n}', JobSyntaxError, "Duplicate update block", 3),
        ('job "j" {\n  priority = 1\n  priority = 2\n}', JobSyntaxError, 'Attribute redefined; The argument "priority" was already set at b.nomad:2,3.', 3),
        ('job "j" {\n  group {}\n}', JobSyntaxError, "Missing name for group", 2),
        ('job "j" {\n  update "x" {}\n}', JobSyntaxError, "Extraneous label for update", 2),
        ('job "j" {\n  meta = { b = "2" }\n  meta { a = "1" }\n}', JobSyntaxError, "Duplicate meta block; meta may not be defined more than once. Another definition is defined at b.nomad:2,3.", 3),
        ('job {\n}', JobSyntaxError, "Missing name for job", 1),
        ('variable "x" {\n  default = 1\n}', JobSyntaxError, "Missing job block", 1),
        ('job "a" {}\njob "b" {}', JobSyntaxError, "Duplicate job block", 2),
        ('resource "x" "y" {}\njob "a" {}', JobSyntaxError, 'Blocks of type "resource" are not expected here.', 1),
        ('job "j" {\n  group "g" {\n    task "t" {\n      user = null\n    }\n  }\n}', JobEvaluationError, "Unsuitable value: null value is not allowed", 4),
        ('job "j" {\n  group "g" {\n    scaling {\n      min = 1\n    }\n  }\n}', JobSyntaxError, 'The argument "max" is required', 3),
        ('job "j" {\n  group "g" {\n    scaling {\n      max = 1\n      type = "vertical_cpu"\n    }\n  }\n}', JobEvaluationError, "Invalid group scaling type", 5),
        ('job "j" {\n  group "g" {\n    task "t" {\n      scaling "disk" {}\n    }\n  }\n}', JobSyntaxError, 'scaling policy name must be "cpu" or "mem"', 4),
        ('job "j" {\n  update {\n    stagger = true\n  }\n}', JobEvaluationError, "Unsuitable value: expected a string but found bool", 3),
        ('job "j" {\n  datacenters = "dc1"\n}', JobEvaluationError, "Unsuitable value: list of string required", 2),
        ('job "j" {\n  group "g" {\n    count = 1.5\n  }\n}', JobEvaluationError, "a whole number is required", 3),
        ('job "j" {\n  update {\n    stagger = "5d"\n  }\n}', JobEvaluationError, 'Unsuitable duration value: time: unknown unit "d" in duration "5d"', 3),
        ('job "j" {\n  update {\n    stagger = "300"\n  }\n}', JobEvaluationError, 'time: missing unit in duration "300"', 3),
        ('job "j" {\n  meta {\n    "a.b" = "x"\n  }\n}', JobSyntaxError, "Invalid argument name; Argument names must not be quoted.", 3),
        ('job "j" {\n  group "${var.x}" {}\n}', JobSyntaxError, "Template sequences are not allowed in this string", 2),
        ('job "j" {\n  datacenters = ["dc1"\n}', JobSyntaxError, "", 3),
        ('job "j" {\n  datacenters = ["dc1"] @\n}', JobSyntaxError, "Invalid character", 2),
        ('{"job": {"j": {}}}', JobSyntaxError, "Unsupported HCL JSON syntax", 1),
        ('job "j" {\n  group "g" {\n    task "t" {\n      config = { a = 1 }\n    }\n  }\n}', JobSyntaxError, 'An argument named "config" is not expected here. Did you mean to define a block of type "config"?', 4),
        ('job "j" {\n  group "g" {\n    env = { A = "1" }\n  }\n}', JobSyntaxError, 'An argument named "env" is not expected here.', 3),
        ('locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\njob "j" {}', JobSyntaxError, "Duplicate value in locals; Duplicate a definition found", 5),
        # HCL's "Did you mean" hints, as `nomad job validate` (v1.0.18) prints them.
        ('job "j" {\n  group "g" {\n    task "t" {\n      resources {\n        memry = 50\n      }\n    }\n  }\n}', JobSyntaxError, 'Unsupported argument; An argument named "memry" is not expected here. Did you mean "memory"?', 5),
        ('job "j" {\n  group "g" {\n    task "t" {\n      restrat {}\n    }\n  }\n}', JobSyntaxError, 'Unsupported block type; Blocks of type "restrat" are not expected here. Did you mean "restart"?', 4),
        ('job "j" {\n  group "g" {\n    count {}\n  }\n}', JobSyntaxError, 'Unsupported block type; Blocks of type "count" are not expected here. Did you mean to define argument "count"? If so, use the equals sign to assign it a value.', 3),
        ('jbo "j" {\n}', JobSyntaxError, 'Unsupported block type; Blocks of type "jbo" are not expected here. Did you mean "job"?', 1),
        # Arguments already set are not suggested (HCL skips them).
        ('job "j" {\n  group "g" {\n    count = 1\n    coun = 2\n  }\n}', JobSyntaxError, 'An argument named "coun" is not expected here.', 4),
    ],
)
def test_structural_errors(text: str, error: type[JobSpecError], message: str, line: int) -> None:
    with pytest.raises(error) as info:
        convert_hcl(text, path="b.nomad", allow_fs=False)
    assert message in info.value.reason
    assert (info.value.path, info.value.line) == ("b.nomad", line)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('count = 1\n    coun = 2', 'Unsupported argument; An argument named "coun" is not expected here.'),
        ('task "t" {\n      resources {\n        memry = 50\n      }\n    }', 'Unsupported argument; An argument named "memry" is not expected here. Did you mean "memory"?'),
    ],
)
def test_did_you_mean_hints_are_exactly_nomads(body: str, reason: str) -> None:
    """Texts from `nomad job validate` (v1.0.18): a hint only when a name is close."""
    with pytest.raises(JobSyntaxError) as info:
        convert_hcl(f'job "j" {{\n  group "g" {{\n    {body}\n  }}\n}}', path="b.nomad", allow_fs=False)
    assert info.value.reason == reason


def test_an_error_in_one_file_does_not_leak_state_into_the_next() -> None:
    with pytest.raises(JobSpecError):
        convert_hcl('job "bad" {\n  count = 1\n}', path="bad.nomad")
    assert convert_hcl('job "good" {}', path="good.nomad")["ID"] == "good"


def test_null_leaves_pointer_slice_and_map_fields_unset() -> None:
    got = job('priority = null\ndatacenters = null\nmeta = null\ngroup "g" {\n  count = null\n}')
    assert (got["Priority"], got["Datacenters"], got["Meta"], got["TaskGroups"][0]["Count"]) == (None, None, None, None)


def test_group_vault_is_copied_into_its_tasks_and_beats_the_job_vault() -> None:
    got = job(
        'vault {\n  policies = ["job"]\n}\n'
        'group "g" {\n  vault {\n    policies = ["group"]\n  }\n  task "a" {}\n  task "b" {\n    vault {\n      policies = ["task"]\n    }\n  }\n}\n'
        'group "h" {\n  task "c" {}\n}'
    )
    policies = [t["Vault"]["Policies"] for g in got["TaskGroups"] for t in g["Tasks"]]
    assert policies == [["group"], ["task"], ["job"]]
    assert got["TaskGroups"][0]["Tasks"][0]["Vault"]["Env"] is True


def test_task_scaling_blocks_become_vertical_policies() -> None:
    got = task('driver = "x"\nscaling "cpu" {\n  min = 100\n  max = 500\n  policy {\n    cooldown = "1m"\n  }\n}\nscaling "mem" {\n  max = 1024\n}')
    assert [(p["Type"], p["Min"], p["Max"]) for p in got["ScalingPolicies"]] == [("vertical_cpu", 100, 500), ("vertical_mem", None, 1024)]
    assert got["ScalingPolicies"][0]["Policy"] == {"cooldown": "1m"}


def test_affinity_shorthand_precedence_follows_nomad() -> None:
    got = job('affinity {\n  attribute = "${attr.a}"\n  set_contains = "x"\n  set_contains_any = "y"\n}')
    assert (got["Affinities"][0]["Operand"], got["Affinities"][0]["RTarget"]) == ("set_contains", "x")


def test_unsuitable_value_points_at_the_start_of_the_expression() -> None:
    text = 'variable "s" {\n  default = "abc"\n}\njob "j" {\n  group "g" {\n    count = var.s\n  }\n}\n'
    with pytest.raises(JobEvaluationError) as info:
        convert_hcl(text, path="c.nomad")
    assert (info.value.line, info.value.column) == (6, 13)
    assert info.value.reason == "Unsuitable value type; Unsuitable value: a number is required"


def test_schema_is_consistent() -> None:
    from reconciler.jobspec.hcl_schema import STRUCTS, Nested

    for struct in STRUCTS.values():
        jsons = [f.json for f in struct.fields]
        assert len(jsons) == len(set(jsons)), struct.name
        for f in struct.fields:
            if isinstance(f, Nested):
                assert f.struct in STRUCTS, (struct.name, f.struct)


def test_connect_sidecar_and_gateway_blocks() -> None:
    got = job(
        'group "g" {\n  service {\n    name = "api"\n    connect {\n      sidecar_service {\n        proxy {\n'
        '          upstreams {\n            destination_name = "db"\n            local_bind_port = 5432\n          }\n'
        '          expose {\n            path {\n              path = "/health"\n              local_path_port = 8080\n            }\n          }\n'
        "        }\n      }\n    }\n  }\n"
        '  service {\n    name = "ingress"\n    connect {\n      gateway {\n        proxy {\n          connect_timeout = "3s"\n'
        '          envoy_gateway_bind_addresses "api" {\n            address = "0.0.0.0"\n            port = 8080\n          }\n        }\n'
        '        ingress {\n          listener {\n            port = 8080\n            service {\n              name = "api"\n              hosts = ["a.example"]\n            }\n          }\n        }\n'
        "      }\n    }\n  }\n}"
    )
    sidecar, ingress = got["TaskGroups"][0]["Services"]
    proxy = sidecar["Connect"]["SidecarService"]["Proxy"]
    assert proxy["Upstreams"] == [{"DestinationName": "db", "LocalBindPort": 5432, "Datacenter": ""}]
    assert proxy["ExposeConfig"] == {"Path": [{"Path": "/health", "Protocol": "", "LocalPathPort": 8080, "ListenerPort": ""}]}
    gateway = ingress["Connect"]["Gateway"]
    assert gateway["Proxy"]["ConnectTimeout"] == 3_000_000_000
    assert gateway["Proxy"]["EnvoyGatewayBindAddresses"] == {"api": {"Name": "api", "Address": "0.0.0.0", "Port": 8080}}
    assert gateway["Ingress"]["Listeners"] == [{"Port": 8080, "Protocol": "", "Services": [{"Name": "api", "Hosts": ["a.example"]}]}]
    assert gateway["Terminating"] is None


def test_csi_plugin_is_printed_before_leader_only_when_set() -> None:
    plain = task('driver = "x"')
    assert "CSIPluginConfig" not in plain
    got = task('driver = "x"\ncsi_plugin {\n  id = "p"\n  type = "node"\n}')
    keys = list(got)
    assert keys.index("CSIPluginConfig") == keys.index("Leader") - 1
    assert got["CSIPluginConfig"] == {"ID": "p", "Type": "node", "MountDir": ""}


def test_pathological_nesting_is_a_clear_error() -> None:
    deep = "(" * 3000 + "1" + ")" * 3000
    with pytest.raises(JobSpecError) as info:
        convert_hcl(f'job "j" {{\n  priority = {deep}\n}}\n', path="deep.nomad")
    assert info.value.path == "deep.nomad"
