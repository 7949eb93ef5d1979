"""Blocks and arguments Nomad added after 1.0: what the converter prints for them, and
that a converter told an older release refuses them in HCL's words.

Each expected JSON is what ``nomad job run -output`` of the release that added the block
prints for it: the ``api`` struct as jobspec2 decodes it (no Canonicalize), fields in
Go declaration order, Go zero values for value fields, null for unset pointers.
Sources (hashicorp/nomad): api/tasks.go v1.8.0 ``DisconnectStrategy`` and
``TaskGroup``; api/tasks.go v1.3.0 ``TaskGroup.MaxClientDisconnect``; api/tasks.go
v1.7.2 ``PreventRescheduleOnLost``; api/jobs.go v1.6.0 ``Job.NodePool``; api/jobs.go
v1.8.0 ``JobUIConfig``/``JobUILink``; api/tasks.go v1.5.0 and v1.7.0
``WorkloadIdentity``, jobspec2/parse_job.go v1.7.0 ``normalizeJob`` (the unnamed or
"default" identity becomes ``Task.Identity``); api/tasks.go v1.7.0 ``Action``;
api/services.go v1.3.0 ``Service.Provider``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.errors import JobSyntaxError
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.jsonspec import parse_json_job

S = 1_000_000_000
Version = tuple[int, int, int]


def convert(body: str, *, group: str = "", task: str = "", version: Version | None = None) -> dict[str, Any]:
    text = (
        f'job "j" {{\n{body}\n  group "g" {{\n{group}\n    task "t" {{\n      driver = "raw_exec"\n'
        f'{task}\n    }}\n  }}\n}}\n'
    )
    return convert_hcl(text, path="l.nomad", allow_fs=False, nomad_version=version)


def refused(version: Version, **parts: str) -> str:
    with pytest.raises(JobSyntaxError) as info:
        convert(parts.pop("body", ""), version=version, **parts)
    return info.value.reason


def test_a_file_without_later_blocks_converts_as_before() -> None:
    """Later fields of 1.0 structs are printed only when set: the 1.0 shape is unchanged."""
    job = convert("")
    assert "NodePool" not in job and "UI" not in job
    group = job["TaskGroups"][0]
    assert not {"Disconnect", "MaxClientDisconnect", "PreventRescheduleOnLost"} & set(group)
    assert not {"Identity", "Identities", "Actions"} & set(group["Tasks"][0])
    assert convert("") == convert("", version=(1, 0, 18))


def test_disconnect_as_nomad_1_8_prints_it() -> None:
    group = convert("", group='    disconnect {\n      lost_after = "6h"\n      replace = false\n    }')["TaskGroups"][0]
    assert group["Disconnect"] == {"LostAfter": 6 * 3600 * S, "StopOnClientAfter": None, "Replace": False, "Reconcile": None}
    full = convert("", group='disconnect {\n stop_on_client_after = "90s"\n reconcile = "keep_original"\n}')
    assert full["TaskGroups"][0]["Disconnect"] == {
        "LostAfter": None, "StopOnClientAfter": 90 * S, "Replace": None, "Reconcile": "keep_original"}


def test_disconnect_is_refused_before_1_8_in_hcl_words() -> None:
    assert refused((1, 7, 7), group="disconnect {\n lost_after = \"1h\"\n}") == (
        'Unsupported block type; Blocks of type "disconnect" are not expected here.')
    assert convert("", group="disconnect {}", version=(1, 8, 0))["TaskGroups"][0]["Disconnect"]["Replace"] is None


def test_max_client_disconnect_and_prevent_reschedule_on_lost() -> None:
    group = convert("", group='max_client_disconnect = "1h"\nprevent_reschedule_on_lost = true')["TaskGroups"][0]
    assert (group["MaxClientDisconnect"], group["PreventRescheduleOnLost"]) == (3600 * S, True)
    assert refused((1, 2, 0), group='max_client_disconnect = "1h"') == (
        'Unsupported argument; An argument named "max_client_disconnect" is not expected here.')
    assert convert("", group='max_client_disconnect = "1h"', version=(1, 3, 0))["TaskGroups"][0]["MaxClientDisconnect"] == 3600 * S
    assert "prevent_reschedule_on_lost" in refused((1, 7, 1), group="prevent_reschedule_on_lost = true")


def test_node_pool_from_1_6() -> None:
    assert convert('node_pool = "gpu"')["NodePool"] == "gpu"
    assert convert('node_pool = "gpu"', version=(1, 6, 0))["NodePool"] == "gpu"
    assert refused((1, 5, 6), body='node_pool = "gpu"') == (
        'Unsupported argument; An argument named "node_pool" is not expected here.')


def test_ui_from_1_8() -> None:
    body = 'ui {\n description = "Edge proxy"\n link {\n label = "Docs"\n url = "https://d"\n }\n}'
    assert convert(body)["UI"] == {"Description": "Edge proxy", "Links": [{"Label": "Docs", "URL": "https://d"}]}
    assert convert("ui {}")["UI"] == {"Description": "", "Links": None}
    assert refused((1, 7, 0), body=body).startswith('Unsupported block type; Blocks of type "ui"')


def test_identity_1_7_moves_the_default_one_to_identity() -> None:
    task = convert("", task='identity {\n env = true\n}\nidentity {\n name = "vault_default"\n aud = ["vault.io"]\n ttl = "1h"\n change_mode = "signal"\n change_signal = "SIGHUP"\n}')["TaskGroups"][0]["Tasks"][0]
    zero = {"Name": "", "Audience": None, "ChangeMode": "", "ChangeSignal": "", "Env": False, "File": False,
            "Filepath": "", "ServiceName": "", "TTL": 0}  # fmt: skip
    assert task["Identity"] == dict(zero, Env=True)
    assert task["Identities"] == [dict(zero, Name="vault_default", Audience=["vault.io"], TTL=3600 * S,
                                       ChangeMode="signal", ChangeSignal="SIGHUP")]  # fmt: skip
    only_named = convert("", task='identity {\n name = "consul"\n}')["TaskGroups"][0]["Tasks"][0]
    assert only_named["Identity"] is None and [i["Name"] for i in only_named["Identities"]] == ["consul"]


def test_identity_1_5_is_one_block_of_env_and_file() -> None:
    task = convert("", task="identity {\n file = true\n}", version=(1, 5, 0))["TaskGroups"][0]["Tasks"][0]
    assert task["Identity"] == {"Env": False, "File": True} and "Identities" not in task
    assert refused((1, 6, 0), task='identity {\n name = "x"\n}') == (
        'Unsupported argument; An argument named "name" is not expected here.')
    assert refused((1, 6, 0), task="identity {}\nidentity {}").startswith("Duplicate identity block;")
    assert refused((1, 4, 0), task="identity {}").startswith('Unsupported block type; Blocks of type "identity"')


def test_action_from_1_7() -> None:
    task = convert("", task='action "hello" {\n command = "/bin/echo"\n args = ["hi"]\n}')["TaskGroups"][0]["Tasks"][0]
    assert task["Actions"] == [{"Name": "hello", "Command": "/bin/echo", "Args": ["hi"]}]
    with pytest.raises(JobSyntaxError, match='The argument "command" is required'):
        convert("", task='action "x" {}')
    assert refused((1, 6, 0), task='action "x" {\n command = "c"\n}').startswith(
        'Unsupported block type; Blocks of type "action"')


def test_service_provider_from_1_3() -> None:
    group = convert("", group='service {\n name = "web"\n provider = "nomad"\n}')["TaskGroups"][0]
    assert group["Services"][0]["Provider"] == "nomad"
    assert "Provider" not in convert("", group='service {\n name = "web"\n}')["TaskGroups"][0]["Services"][0]
    assert refused((1, 2, 0), group='service {\n provider = "nomad"\n}').startswith(
        'Unsupported argument; An argument named "provider"')


def test_the_json_decoder_reads_what_the_converter_prints() -> None:
    job = convert(
        'node_pool = "p"\nui { description = "d" }',
        group='disconnect { lost_after = "1h" }\nmax_client_disconnect = "2h"',
        task='identity { env = true }\naction "a" { command = "c" }',
    )
    assert parse_json_job(json.dumps({"Job": job}), path="l.json") == job


def test_render_nomad_version(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``render --nomad-version``: the release's job specification, for HCL and JSON files."""
    from reconciler.cli import main

    (tmp_path / "d.nomad").write_text('job "d" {\n  group "g" {\n    disconnect {\n      lost_after = "1h"\n    }\n  }\n}\n')
    assert main(["render", str(tmp_path / "d.nomad"), "--nomad-version", "1.8.0"]) == 0
    rendered = capsys.readouterr().out
    assert json.loads(rendered)["Job"]["TaskGroups"][0]["Disconnect"]["LostAfter"] == 3600 * S
    assert main(["render", str(tmp_path / "d.nomad"), "--nomad-version", "1.7.7"]) == 1
    assert 'd.nomad:3,5: Unsupported block type; Blocks of type "disconnect"' in capsys.readouterr().err
    (tmp_path / "d.json").write_text(rendered)
    assert main(["render", str(tmp_path / "d.json"), "--nomad-version", "1.7.7"]) == 1
    assert '"disconnect" is in the job specification from Nomad 1.8.0' in capsys.readouterr().err


def test_template_later_fields() -> None:
    """api/tasks.go v1.3.0 (wait), v1.4.0 (change_script, uid, gid), v1.4.3
    (error_on_missing_key), v1.10.2 (once); change_script filled by jobspec2/parse_job.go
    v1.8.0 normalizeChangeScript."""
    body = ('template {\n data = "x"\n destination = "local/x"\n change_script {\n command = "/bin/r"\n'
            ' fail_on_error = true\n }\n uid = 1000\n gid = 100\n once = true\n error_on_missing_key = true\n'
            ' wait {\n min = "5s"\n max = "1m"\n }\n}')  # fmt: skip
    template = convert("", task=body)["TaskGroups"][0]["Tasks"][0]["Templates"][0]
    assert template["ChangeScript"] == {"Command": "/bin/r", "Args": [], "Timeout": 5 * S, "FailOnError": True}
    assert (template["Uid"], template["Gid"], template["Once"], template["ErrMissingKey"]) == (1000, 100, True, True)
    assert template["Wait"] == {"Min": 5 * S, "Max": 60 * S}
    plain = convert("", task='template {\n data = "x"\n}')["TaskGroups"][0]["Tasks"][0]["Templates"][0]
    assert not {"ChangeScript", "Uid", "Gid", "Once", "Wait", "ErrMissingKey"} & set(plain)
    assert refused((1, 10, 1), task=body) == 'Unsupported argument; An argument named "once" is not expected here.'
    with pytest.raises(JobSyntaxError, match='The argument "max" is required'):
        convert("", task='template {\n wait {\n min = "5s"\n }\n}')


def test_vault_restart_and_consul_later_fields() -> None:
    """api/tasks.go v1.6.0 (disable_file), v1.7.0 (role, cluster, task consul), v1.7.3
    (allow_token_expiration), v1.6.2 (render_templates), v1.1.0 (group consul)."""
    task_body = ('vault {\n policies = ["p"]\n role = "web"\n cluster = "default"\n disable_file = true\n'
                 ' allow_token_expiration = true\n}\nconsul {\n cluster = "east"\n}\nrestart {\n render_templates = true\n}')  # fmt: skip
    job = convert("", group='consul {\n namespace = "team"\n}', task=task_body)
    group, task = job["TaskGroups"][0], job["TaskGroups"][0]["Tasks"][0]
    assert task["Vault"] == {"Policies": ["p"], "Role": "web", "Namespace": None, "Cluster": "default", "Env": True,
                             "DisableFile": True, "ChangeMode": "restart", "ChangeSignal": None,
                             "AllowTokenExpiration": True}  # fmt: skip
    assert task["Consul"] == {"Namespace": "", "Cluster": "east", "Partition": ""}
    assert group["Consul"] == {"Namespace": "team", "Cluster": "", "Partition": ""}
    assert task["RestartPolicy"]["RenderTemplates"] is True
    assert refused((1, 6, 0), task=task_body).startswith('Unsupported block type; Blocks of type "consul"')
    assert refused((1, 6, 0), task='vault {\n role = "web"\n}') == (
        'Unsupported argument; An argument named "role" is not expected here.')
    assert refused((1, 0, 18), group='consul {\n namespace = "team"\n}').startswith(
        'Unsupported block type; Blocks of type "consul"')
    assert convert("", group='consul {\n namespace = "team"\n}', version=(1, 1, 0))["TaskGroups"][0]["Consul"] == {
        "Namespace": "team"}


def test_later_fields_names_what_a_release_refuses_and_ignores_zero_values() -> None:
    from reconciler.jobspec.later_fields import later_messages

    job = convert('node_pool = "gpu"', task='vault {\n policies = ["p"]\n role = "web"\n}')
    assert later_messages(job, (1, 6, 0)) == [
        'Unsupported argument; An argument named "role" is not expected here. ("role" is in the job '
        "specification from Nomad 1.7.0; this is Nomad 1.6.0)"
    ]
    assert later_messages(job, (1, 7, 0)) == []
    assert [m.split(";")[1].strip() for m in later_messages(job, (1, 5, 6))] == [
        'An argument named "node_pool" is not expected here. ("node_pool" is in the job specification from Nomad 1.6.0',
        'An argument named "role" is not expected here. ("role" is in the job specification from Nomad 1.7.0',
    ]
    job["TaskGroups"][0]["Tasks"][0]["Vault"]["Role"] = ""  # as read back from a newer Nomad
    job["NodePool"] = ""
    assert later_messages(job, (1, 0, 18)) == []
