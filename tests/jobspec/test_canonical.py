"""canonicalize / strip_server_fields against what a real Nomad 1.0.18 filled in.

Ground truth: ``X.parse.json`` (``/v1/jobs/parse`` with ``Canonicalize: true``,
the api layer) for every valid corpus file, and the jobs read back with
``GET /v1/job/:id`` in the api transcripts (all three layers).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.canonical import canonicalize, strip_server_fields
from reconciler.jobspec.canonical_defaults import SECOND
from reconciler.jobspec.normal_form import SERVER_FIELDS
from tests.support.jobs import without_nulls

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
JOBSPEC = GOLDEN / "jobspec"
MANIFEST = json.loads((JOBSPEC / "manifest.json").read_text())
VALID = [entry["file"].removesuffix(".nomad") for entry in MANIFEST["valid"]]




def empty_as_absent(value: Any) -> Any:
    """Nomad nils empty maps/lists; our normal form drops them (documented in canonical)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = empty_as_absent(v)
            if v is None or v == {} or v == []:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [empty_as_absent(v) for v in value]
    return value


def parse_json_as_read_back(parsed: dict[str, Any]) -> dict[str, Any]:
    """``X.parse.json`` is only the api layer; canonical form is what Nomad *reads back*.

    Deliberate deviations from parse.json, each because the server's struct
    form (what GET /v1/job returns, see 01-register-read.jsonl) differs:
    1. server-managed fields and token secrets are not part of a declared job;
    2. job ``Update``: ApiJobToStructJob keeps only Stagger/MaxParallel (when
       MaxParallel > 0), everything else is zero at job level;
    3. job ``Reschedule``/``Migrate``: merged into the groups, no struct field;
    4. ``Resources.DiskMB``/``IOPS``: plain ints in the struct, read back as 0;
    5. service/check ``Id`` and service-level ``CheckRestart`` (already merged
       into each check): not in the struct;
    7. network ``MBits``: nil in the api for group networks, an int (0) in the struct;
    9. port ``HostNetwork``: "" in the api, "default" once the server canonicalized it.
    (8. the server's implied constraints are not in parse.json: ``without_implied``
       removes them from our side, ``test_implied_constraints_*`` pins them.)
    6. scaling policy ``ID``/``Namespace``/``Target``/indexes: assigned by the server.
    """
    job = copy.deepcopy(parsed)
    for key in SERVER_FIELDS:
        job.pop(key, None)
    update = job.get("Update")
    zero = {
        "Stagger": 0,
        "MaxParallel": 0,
        "HealthCheck": "",
        "MinHealthyTime": 0,
        "HealthyDeadline": 0,
        "ProgressDeadline": 0,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    if update and update.get("MaxParallel", 0) > 0:
        job["Update"] = {**zero, "Stagger": update["Stagger"], "MaxParallel": update["MaxParallel"]}
    else:
        job["Update"] = zero
    job.pop("Reschedule", None)
    job.pop("Migrate", None)
    for group in job["TaskGroups"]:
        if group.get("Scaling"):
            for key in ("ID", "Namespace", "Target", "CreateIndex", "ModifyIndex"):
                group["Scaling"].pop(key, None)
        services = list(group.get("Services") or [])
        networks = list(group.get("Networks") or [])
        for task in group["Tasks"]:
            resources = task["Resources"]
            resources["DiskMB"] = resources.get("DiskMB") or 0
            resources["IOPS"] = resources.get("IOPS") or 0
            services += task.get("Services") or []
            networks += resources.get("Networks") or []
        for network in networks:
            network["MBits"] = network.get("MBits") or 0
            for port in (network.get("ReservedPorts") or []) + (network.get("DynamicPorts") or []):
                port["HostNetwork"] = port.get("HostNetwork") or "default"
        for service in services:
            service.pop("Id", None)
            service.pop("CheckRestart", None)
            for check in service.get("Checks") or []:
                check.pop("Id", None)
    return job


def load_output(name: str) -> dict[str, Any]:
    return json.loads((JOBSPEC / f"{name}.output.json").read_text())["Job"]


IMPLIED_TARGETS = ("${attr.vault.version}", "${attr.os.signals}")


def without_implied(job: dict[str, Any]) -> dict[str, Any]:
    job = copy.deepcopy(job)
    for group in job.get("TaskGroups", []):
        kept = [c for c in group.get("Constraints", []) if c["LTarget"] not in IMPLIED_TARGETS]
        group.pop("Constraints", None)
        if kept:
            group["Constraints"] = kept
    return job


@pytest.mark.parametrize("name", VALID)
def test_canonicalize_matches_nomad_parse_canonicalize(name: str) -> None:
    parsed = json.loads((JOBSPEC / f"{name}.parse.json").read_text())
    got = without_implied(canonicalize(load_output(name)))
    want = empty_as_absent(without_nulls(parse_json_as_read_back(parsed)))
    assert without_nulls(got) == want


@pytest.mark.parametrize("name", VALID)
def test_canonicalize_is_idempotent_and_pure(name: str) -> None:
    job = load_output(name)
    before = copy.deepcopy(job)
    once = canonicalize(job)
    assert job == before, "canonicalize mutated its input"
    assert canonicalize(once) == once


@pytest.mark.parametrize("name", VALID)
def test_parse_output_is_already_canonical_input(name: str) -> None:
    # A job taken from /v1/jobs/parse (api layer applied) canonicalizes to the same.
    parsed = json.loads((JOBSPEC / f"{name}.parse.json").read_text())
    assert canonicalize(parsed) == canonicalize(load_output(name))


def api_pairs() -> list[tuple[str, int, list[dict[str, Any]], dict[str, Any]]]:
    """(scenario, line, bodies registered so far for the job, read-back job) per GET /v1/job/:id."""
    pairs = []
    for path in sorted((GOLDEN / "api").glob("*.jsonl")):
        registered: dict[str, list[dict[str, Any]]] = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            exchange = json.loads(line)
            request, response = exchange["request"], exchange["response"]
            body = request.get("body")
            if (
                request["method"] in ("PUT", "POST")
                and isinstance(body, dict)
                and isinstance(body.get("Job"), dict)
                and not request["path"].endswith("/plan")
                and not request["path"].startswith("/v1/validate")
                and response["status"] == 200
            ):
                registered.setdefault(body["Job"]["ID"], []).append(body)
            if (
                request["method"] == "GET"
                and request["path"].count("/") == 3
                and request["path"].startswith("/v1/job/")
                and response["status"] == 200
                and response["body"]["ID"] in registered
            ):
                job = response["body"]
                pairs.append((path.name, number, list(registered[job["ID"]]), job))
    return pairs


def _with_count(count: int) -> Any:
    def patch(job: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
        job = copy.deepcopy(job)
        job["TaskGroups"][0]["Count"] = count
        return job

    return patch


# Read-backs that differ from the last registered body because Nomad changed
# the job afterwards: real drift the diff must show.  Each entry applies the
# recorded change to the desired job, so the rest must still match exactly.
REAL_DRIFT: dict[tuple[str, int], Any] = {
    # auto-revert re-registered version 0's spec
    ("06-failed-deployment-auto-revert.jsonl", 10): lambda job, history: history[0]["Job"],
    ("06-failed-deployment-auto-revert.jsonl", 14): lambda job, history: history[0]["Job"],
    # DELETE without purge sets Stop=true
    ("09-stop-deregister-missing.jsonl", 10): lambda job, history: {**job, "Stop": True},
    ("16-job-types-and-evaluations.jsonl", 20): lambda job, history: {**job, "Stop": True},
    ("16-job-types-and-evaluations.jsonl", 21): lambda job, history: {**job, "Stop": True},
    # the scale endpoint changed Count (and 1.0.18 keeps a refused count)
    ("13-scale-drift.jsonl", 7): _with_count(4),
    ("13-scale-drift.jsonl", 21): _with_count(4),
    ("13-scale-drift.jsonl", 28): _with_count(3),
}


@pytest.mark.parametrize(
    ("scenario", "line", "history", "read_back"),
    api_pairs(),
    ids=lambda v: str(v) if isinstance(v, str | int) else "",
)
def test_canonical_registered_job_equals_read_back(
    scenario: str, line: int, history: list[dict[str, Any]], read_back: dict[str, Any]
) -> None:
    body = history[-1]
    desired = dict(body["Job"])
    # Nomad stores the namespace the request resolved (?namespace= wins).
    desired.setdefault("Namespace", body.get("Namespace") or read_back["Namespace"])
    want = strip_server_fields(read_back)
    drift = REAL_DRIFT.get((scenario, line))
    if drift is not None:
        assert canonicalize(desired) != want, "recorded drift no longer detected"
        desired = {**drift(desired, history), "Namespace": desired["Namespace"]}
    assert canonicalize(desired) == want


def test_api_transcripts_cover_several_scenarios() -> None:
    scenarios = {s for s, *_ in api_pairs()}
    assert {
        "01-register-read.jsonl",
        "04-canary-manual-promote.jsonl",
        "13-scale-drift.jsonl",
    } <= scenarios


def test_hand_written_bare_job_gets_every_default() -> None:
    job = {
        "ID": "web",
        "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}],
    }
    got = canonicalize(job)
    assert got["Name"] == "web" and got["Type"] == "service" and got["Priority"] == 50
    group = got["TaskGroups"][0]
    assert group["Count"] == 1
    assert group["Update"]["MaxParallel"] == 1
    assert group["Migrate"]["HealthCheck"] == "checks"
    assert group["ReschedulePolicy"]["Unlimited"] is True
    task = group["Tasks"][0]
    assert task["Resources"] == {"CPU": 100, "MemoryMB": 300, "DiskMB": 0, "IOPS": 0}
    assert task["RestartPolicy"] == group["RestartPolicy"]
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10}
    assert got["Update"]["Stagger"] == 30 * SECOND


@pytest.mark.parametrize(
    ("job_type", "restart_attempts", "reschedule", "has_update", "has_migrate"),
    [
        ("service", 2, {"Unlimited": True}, True, True),
        ("batch", 3, {"Attempts": 1, "DelayFunction": "constant"}, False, False),
        ("system", 2, None, False, False),
    ],
)
def test_defaults_depend_on_job_type(
    job_type: str,
    restart_attempts: int,
    reschedule: dict[str, Any] | None,
    has_update: bool,
    has_migrate: bool,
) -> None:
    job = {"ID": "j", "Type": job_type, "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t"}]}]}
    group = canonicalize(job)["TaskGroups"][0]
    assert group["RestartPolicy"]["Attempts"] == restart_attempts
    if reschedule is None:
        assert "ReschedulePolicy" not in group
    else:
        assert reschedule.items() <= group["ReschedulePolicy"].items()
    assert ("Update" in group) is has_update
    assert ("Migrate" in group) is has_migrate


def test_periodic_and_parameterized_defaults() -> None:
    job = {
        "ID": "p",
        "Type": "batch",
        "Periodic": {"Spec": "@daily"},
        "ParameterizedJob": {},
        "TaskGroups": [],
    }
    got = canonicalize(job)
    assert got["Periodic"] == {
        "Spec": "@daily",
        "Enabled": True,
        "SpecType": "cron",
        "ProhibitOverlap": False,
        "TimeZone": "UTC",
    }
    assert got["ParameterizedJob"] == {"Payload": "optional"}


def test_job_update_is_merged_into_groups_and_reduced_at_job_level() -> None:
    job = {
        "ID": "u",
        "Update": {"MaxParallel": 3, "Canary": 1, "AutoRevert": True},
        "TaskGroups": [
            {"Name": "a", "Tasks": [{"Name": "t"}]},
            {"Name": "b", "Update": {"Canary": 2}, "Tasks": [{"Name": "t"}]},
        ],
    }
    got = canonicalize(job)
    a, b = (g["Update"] for g in got["TaskGroups"])
    assert (a["MaxParallel"], a["Canary"], a["AutoRevert"]) == (3, 1, True)
    assert (b["MaxParallel"], b["Canary"], b["AutoRevert"]) == (3, 2, True)
    assert got["Update"]["MaxParallel"] == 3 and got["Update"]["Canary"] == 0
    assert got["Update"]["HealthCheck"] == ""


def test_service_names_are_defaulted_and_interpolated() -> None:
    job = {
        "ID": "shop",
        "TaskGroups": [
            {
                "Name": "web",
                "Services": [{"PortLabel": "http"}],
                "Tasks": [
                    {
                        "Name": "nginx",
                        "Services": [{"Name": "${JOB}-${TASK}"}, {"Name": "${BASE}-x"}],
                    }
                ],
            }
        ],
    }
    group = canonicalize(job)["TaskGroups"][0]
    assert group["Services"][0]["Name"] == "shop-web"
    assert [s["Name"] for s in group["Tasks"][0]["Services"]] == ["shop-nginx", "shop-web-nginx-x"]
    assert group["Services"][0]["AddressMode"] == "auto"


def test_template_signal_upper_cased_and_check_restart_merged() -> None:
    job = {
        "ID": "t",
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Templates": [{"ChangeMode": "signal"}, {"ChangeSignal": "sigusr1"}],
                        "Services": [
                            {"CheckRestart": {"Limit": 3}, "Checks": [{"Name": "a"}, {"Name": "b"}]}
                        ],
                    }
                ],
            }
        ],
    }
    task = canonicalize(job)["TaskGroups"][0]["Tasks"][0]
    assert [t["ChangeSignal"] for t in task["Templates"]] == ["SIGHUP", "SIGUSR1"]
    assert "CheckRestart" not in task["Services"][0]  # merged into the checks, as the server does
    for check in task["Services"][0]["Checks"]:
        assert check["CheckRestart"] == {"Limit": 3, "Grace": SECOND, "IgnoreWarnings": False}


def test_artifact_destination_defaults() -> None:
    job = {
        "ID": "a",
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Artifacts": [
                            {"GetterSource": "https://x/y.tgz"},
                            {"GetterSource": "https://x/tool.bin", "GetterMode": "file"},
                        ],
                    }
                ],
            }
        ],
    }
    artifacts = canonicalize(job)["TaskGroups"][0]["Tasks"][0]["Artifacts"]
    assert [a["RelativeDest"] for a in artifacts] == ["local/", "local/tool.bin"]
    assert artifacts[0]["GetterMode"] == "any"


def test_strip_server_fields_keeps_spec_drift() -> None:
    read_back = {
        "ID": "x",
        "Stop": True,
        "Version": 3,
        "Status": "dead",
        "JobModifyIndex": 9,
        "SubmitTime": 1,
        "Meta": {},
        "TaskGroups": [{"Name": "g", "Count": 4, "Scaling": {"ID": "abc", "Min": 1, "Max": 5}}],
    }
    got = strip_server_fields(read_back)
    assert got == {
        "ID": "x",
        "Stop": True,
        "TaskGroups": [{"Name": "g", "Count": 4, "Scaling": {"Min": 1, "Max": 5}}],
    }
    assert read_back["Version"] == 3, "strip_server_fields mutated its input"


def test_opaque_maps_keep_empty_values_inside() -> None:
    job = {
        "ID": "o",
        "TaskGroups": [
            {"Name": "g", "Tasks": [{"Name": "t", "Config": {"args": [], "x": None, "m": {}}}]}
        ],
    }
    config = canonicalize(job)["TaskGroups"][0]["Tasks"][0]["Config"]
    assert config == {"args": [], "x": None, "m": {}}


@pytest.mark.parametrize("name", VALID)
def test_missing_keys_and_nulls_canonicalize_alike(name: str) -> None:
    # a hand-written JSON job omits what `-output` prints as null
    job = load_output(name)
    assert canonicalize(without_nulls(job)) == canonicalize(job)


SIGNALS = "${attr.os.signals}"
VAULT = {"LTarget": "${attr.vault.version}", "RTarget": ">= 0.6.1", "Operand": "semver"}


@pytest.mark.parametrize(
    ("name", "constraints"),
    [
        # a template with change_mode = "signal"
        (
            "16-template-blocks",
            [{"LTarget": SIGNALS, "RTarget": "SIGHUP", "Operand": "set_contains"}],
        ),
        # kill_signal on two tasks: one constraint, signals sorted and joined
        (
            "20-task-shutdown-logs",
            [{"LTarget": SIGNALS, "RTarget": "SIGINT,SIGTERM", "Operand": "set_contains"}],
        ),
        # vault on both tasks, one with change_mode = "signal"
        (
            "22-vault",
            [VAULT, {"LTarget": SIGNALS, "RTarget": "SIGUSR1", "Operand": "set_contains"}],
        ),
        ("01-minimal-service", None),
    ],
)
def test_implied_constraints_are_added_like_the_server(
    name: str, constraints: list[dict[str, str]] | None
) -> None:
    (group,) = canonicalize(load_output(name))["TaskGroups"]
    assert group.get("Constraints") == constraints


def test_implied_constraints_respect_what_the_user_wrote() -> None:
    own_vault = {"LTarget": "${attr.vault.version}", "RTarget": ">= 1.2.0", "Operand": "semver"}
    job = {
        "ID": "v",
        "TaskGroups": [
            {
                "Name": "g",
                "Constraints": [own_vault],
                "Tasks": [{"Name": "t", "Vault": {"Policies": ["p"]}, "KillSignal": "SIGINT"}],
            }
        ],
    }
    got = canonicalize(job)["TaskGroups"][0]["Constraints"]
    assert got == [
        {**own_vault},
        {"LTarget": SIGNALS, "RTarget": "SIGINT", "Operand": "set_contains"},
    ]
    assert canonicalize(canonicalize(job))["TaskGroups"][0]["Constraints"] == got


@pytest.mark.parametrize("where", ["group", "task"])
def test_every_port_names_its_host_network(where: str) -> None:
    """Nomad 1.0.18 stores ``HostNetwork: "default"`` on every port it did not get one for
    (recorded: tests/golden/api/15-host-network.jsonl); an explicit one is kept."""
    network = {
        "DynamicPorts": [{"Label": "http"}],
        "ReservedPorts": [{"Label": "db", "Value": 8080}, {"Label": "x", "Value": 1, "HostNetwork": "lan"}],
    }
    task: dict[str, Any] = {"Name": "t", "Driver": "mock_driver"}
    group: dict[str, Any] = {"Name": "g", "Tasks": [task]}
    if where == "group":
        group["Networks"] = [network]
    else:
        task["Resources"] = {"Networks": [network]}
    got = canonicalize({"ID": "j", "Datacenters": ["dc1"], "TaskGroups": [group]})
    g = got["TaskGroups"][0]
    net = g["Networks"][0] if where == "group" else g["Tasks"][0]["Resources"]["Networks"][0]
    assert [p["HostNetwork"] for p in net["DynamicPorts"]] == ["default"]
    assert [p["HostNetwork"] for p in net["ReservedPorts"]] == ["default", "lan"]
    assert canonicalize(got) == got
