"""Loading a jobs directory: real files in tmp_path, parse counts instead of timings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import JobEvaluationError
from reconciler.jobspec import loader as loader_module
from reconciler.jobspec import parse_pool
from reconciler.jobspec.canonical import canonicalize
from reconciler.jobspec.digest import digest
from reconciler.jobspec.discovery import SourceFormat
from reconciler.jobspec.file_parser import parse_job_source
from reconciler.jobspec.loader import LoadCache, load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.model import Severity

NO_INPUTS = VariableInputs()


def json_job(job_id: str, *, namespace: str | None = None, **extra: Any) -> str:
    job: dict[str, Any] = {
        "ID": job_id,
        "Name": job_id,
        "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Tasks": [{
            "Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sleep"},
        }]}],
    }
    if namespace:
        job["Namespace"] = namespace
    job.update(extra)
    return json.dumps({"Job": job}, indent=2)


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class CountingParser:
    """The real default parser, counting calls and recording what it was given."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.inputs: dict[str, Any] = {}

    def __call__(self, text: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs["path"])
        self.inputs[kwargs["path"]] = kwargs["inputs"]
        if kwargs["source_format"] is SourceFormat.HCL2:
            # HCL2 is another module's job; a stand-in that reads `job "ID"`.
            job_id = text.split('job "', 1)[1].split('"', 1)[0]
            return json.loads(json_job(job_id))["Job"]  # type: ignore[no-any-return]
        return parse_job_source(text, **kwargs)


def test_loads_jobs_with_key_fields(tmp_path: Path) -> None:
    write(tmp_path, "default/web.json", json_job("web"))
    write(tmp_path, "platform/proxy.json", json_job("proxy", namespace="platform", Region="eu"))
    snap = load_directory(tmp_path, inputs=NO_INPUTS)
    assert snap.errors == ()
    assert snap.complete
    assert [j.path for j in snap.jobs] == ["default/web.json", "platform/proxy.json"]
    web, proxy = snap.jobs
    assert (web.namespace, web.job_id, web.region) == ("default", "web", "global")
    assert (proxy.namespace, proxy.job_id, proxy.region) == ("platform", "proxy", "eu")
    assert web.source_format == "json"
    assert web.source == (tmp_path / "default/web.json").read_text()
    assert web.canonical == canonicalize(web.job)
    assert web.digest == digest(web.canonical)
    assert set(snap.by_key()) == {("default", "web"), ("platform", "proxy")}


def test_broken_file_is_a_diagnostic_and_others_still_load(tmp_path: Path) -> None:
    write(tmp_path, "a-good.json", json_job("good"))
    write(tmp_path, "b-broken.json", '{\n  "Job": {\n    "ID": "broken",\n  }\n}\n')
    write(tmp_path, "c-wrong-type.json", json_job("typed", Priority="high"))
    write(tmp_path, "d-good.json", json_job("good2"))
    snap = load_directory(tmp_path, inputs=NO_INPUTS)
    assert [j.job_id for j in snap.jobs] == ["good", "good2"]
    assert not snap.complete
    by_path = {d.path: d for d in snap.errors}
    assert set(by_path) == {"b-broken.json", "c-wrong-type.json"}
    broken = by_path["b-broken.json"]
    assert broken.severity is Severity.ERROR
    assert broken.line == 4
    assert "invalid JSON" in broken.message
    typed = by_path["c-wrong-type.json"]
    assert "Priority" in typed.message and typed.line is not None


def test_parser_crash_is_contained_to_its_file(tmp_path: Path) -> None:
    write(tmp_path, "a.json", json_job("a"))
    write(tmp_path, "b.json", json_job("b"))

    def parser(text: str, **kwargs: Any) -> dict[str, Any]:
        if kwargs["path"] == "a.json":
            raise KeyError("boom")
        return parse_job_source(text, **kwargs)

    snap = load_directory(tmp_path, inputs=NO_INPUTS, parser=parser)
    assert [j.job_id for j in snap.jobs] == ["b"]
    (err,) = snap.errors
    assert err.path == "a.json" and "internal error" in err.message and "KeyError" in err.message


def test_jobspec_error_position_is_kept(tmp_path: Path) -> None:
    write(tmp_path, "web.nomad", 'job "web" {}\n')

    def parser(text: str, **kwargs: Any) -> dict[str, Any]:
        raise JobEvaluationError("Unknown variable", path=kwargs["path"], line=7, column=3)

    snap = load_directory(tmp_path, inputs=NO_INPUTS, parser=parser)
    (err,) = snap.errors
    assert (err.path, err.line, err.column, err.message) == ("web.nomad", 7, 3, "Unknown variable")
    assert err.describe() == "web.nomad:7,3: error: Unknown variable [load]"


def test_duplicate_job_keys_are_errors_of_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a/web.json", json_job("web"))
    write(tmp_path, "b/web-copy.json", json_job("web"))
    write(tmp_path, "c/web-other-ns.json", json_job("web", namespace="platform"))
    snap = load_directory(tmp_path, inputs=NO_INPUTS)
    assert [j.path for j in snap.jobs] == ["c/web-other-ns.json"]
    assert [e.path for e in snap.errors] == ["a/web.json", "b/web-copy.json"]
    assert all(e.rule == "duplicate-job" for e in snap.errors)
    assert "b/web-copy.json" in snap.errors[0].message
    assert "a/web.json" in snap.errors[1].message
    assert not snap.complete


def test_discovery_problems_become_diagnostics(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    write(root, "web.json", json_job("web"))
    outside = write(tmp_path, "outside.json", json_job("outside"))
    os.symlink(outside, root / "link.json")
    snap = load_directory(root, inputs=NO_INPUTS)
    assert [j.job_id for j in snap.jobs] == ["web"]
    (err,) = snap.errors
    assert err.path == "link.json" and "outside the jobs directory" in err.message


def test_warm_rescan_parses_nothing_and_one_change_parses_one(tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path, f"job{i}.json", json_job(f"job{i}"))
    parser = CountingParser()
    cache = LoadCache()
    first = load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert len(parser.calls) == 5 and cache.parse_count == 5

    warm = load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert len(parser.calls) == 5
    assert cache.parsed == ()
    assert warm == first

    write(tmp_path, "job3.json", json_job("job3", Priority=70))
    changed = load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert parser.calls[5:] == ["job3.json"]
    assert cache.parsed == ("job3.json",)
    assert changed.by_key()[("default", "job3")].job["Priority"] == 70
    assert changed.by_key()[("default", "job3")].digest != first.by_key()[("default", "job3")].digest


def test_cache_keeps_failures_and_forgets_removed_files(tmp_path: Path) -> None:
    write(tmp_path, "bad.json", '{"Job": {')
    write(tmp_path, "good.json", json_job("good"))
    parser = CountingParser()
    cache = LoadCache()
    load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    again = load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert len(parser.calls) == 2
    assert [e.path for e in again.errors] == ["bad.json"]
    (tmp_path / "bad.json").unlink()
    load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert set(cache.entries) == {"good.json"}


def test_changed_inputs_or_var_files_reparse(tmp_path: Path) -> None:
    write(tmp_path, "web.nomad", 'job "web" {}\n')
    write(tmp_path, "web.vars.hcl", "replicas = 2\n")
    write(tmp_path, "api.nomad", 'job "api" {}\n')
    parser = CountingParser()
    cache = LoadCache()
    load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert sorted(parser.calls) == ["api.nomad", "web.nomad"]

    write(tmp_path, "web.vars.hcl", "replicas = 3\n")
    load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert cache.parsed == ("web.nomad",)

    load_directory(tmp_path, inputs=VariableInputs(cli=("replicas=4",)), cache=cache, parser=parser)
    assert sorted(cache.parsed) == ["api.nomad", "web.nomad"]


def test_global_var_file_content_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    write(jobs, "web.nomad", 'job "web" {}\n')
    var_file = write(tmp_path, "prod.vars.hcl", "replicas = 2\n")
    inputs = VariableInputs(files=(str(var_file),))
    parser = CountingParser()
    cache = LoadCache()
    load_directory(jobs, inputs=inputs, cache=cache, parser=parser)
    load_directory(jobs, inputs=inputs, cache=cache, parser=parser)
    assert cache.parsed == ()
    var_file.write_text("replicas = 5\n")
    load_directory(jobs, inputs=inputs, cache=cache, parser=parser)
    assert cache.parsed == ("web.nomad",)


def test_jobs_using_file_functions_are_always_reparsed(tmp_path: Path) -> None:
    write(tmp_path, "web.nomad", 'job "web" {\n  meta { conf = file("conf.txt") }\n}\n')
    write(tmp_path, "api.nomad", 'job "api" {}\n')
    parser = CountingParser()
    cache = LoadCache()
    load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    load_directory(tmp_path, inputs=NO_INPUTS, cache=cache, parser=parser)
    assert cache.parsed == ("web.nomad",)


def test_companion_var_file_comes_before_global_var_files(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    write(jobs, "apps/web.nomad", 'job "web" {}\n')
    write(jobs, "apps/web.vars.hcl", "replicas = 2\n")
    write(jobs, "apps/api.nomad", 'job "api" {}\n')
    global_file = write(tmp_path, "prod.vars.hcl", "replicas = 3\n")
    parser = CountingParser()
    load_directory(jobs, inputs=VariableInputs(files=(str(global_file),)), parser=parser)
    assert tuple(parser.inputs["apps/web.nomad"].files) == (
        str(jobs / "apps/web.vars.hcl"),
        str(global_file),
    )
    assert tuple(parser.inputs["apps/api.nomad"].files) == (str(global_file),)


def test_process_pool_gives_the_same_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_pool, "POOL_MIN_FILES", 4)
    monkeypatch.setattr(parse_pool, "POOL_CHUNK", 2)  # so the worker gets chunks too
    for i in range(10):
        write(tmp_path, f"jobs/job{i:02d}.json", json_job(f"job{i}"))
    write(tmp_path, "jobs/broken.json", '{"Job": {')
    pooled = load_directory(tmp_path, inputs=NO_INPUTS, workers=2)
    serial = load_directory(tmp_path, inputs=NO_INPUTS, workers=1)
    assert pooled == serial
    assert len(pooled.jobs) == 10 and [e.path for e in pooled.errors] == ["jobs/broken.json"]


def test_digest_ignores_ownership_meta_and_key_order() -> None:
    job = canonicalize(json.loads(json_job("web"))["Job"])
    base = digest(job)
    assert len(base) == 64 and int(base, 16) >= 0
    stamped = {**job, "Meta": {"gitops.source": "web.json", "gitops.digest": base}}
    assert digest(stamped) == base
    assert digest({**job, "Meta": {}}) == base
    reordered = dict(reversed(list(job.items())))
    assert digest(reordered) == base
    assert digest({**job, "Meta": {"team": "web", "gitops.source": "x"}}) != base
    assert digest({**job, "Meta": {"other.source": "x"}}) != base  # only gitops. keys are ours


def test_digest_treats_integral_floats_as_integers() -> None:
    job = canonicalize(json.loads(json_job("web"))["Job"])
    as_float = {**job, "Priority": float(job["Priority"])}
    assert isinstance(as_float["Priority"], float)
    assert digest(as_float) == digest(job)
    assert digest({**job, "Priority": 50.5}) != digest(job)


def test_unusable_process_pool_falls_back_to_serial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures.process

    class BrokenPool:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise concurrent.futures.process.BrokenProcessPool("no pool here")

    monkeypatch.setattr(parse_pool, "POOL_MIN_FILES", 2)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", BrokenPool)
    for i in range(3):
        write(tmp_path, f"job{i}.json", json_job(f"job{i}"))
    snap = load_directory(tmp_path, inputs=NO_INPUTS, workers=2)
    assert [j.job_id for j in snap.jobs] == ["job0", "job1", "job2"] and snap.errors == ()


def test_missing_directory_is_an_error_not_an_empty_snapshot(tmp_path: Path) -> None:
    # An empty, complete snapshot would tell the planner every job was removed.
    snap = load_directory(tmp_path / "no-such-dir", inputs=NO_INPUTS)
    assert snap.jobs == ()
    assert not snap.complete
    (err,) = snap.errors
    assert "cannot list" in err.message


def test_non_utf8_file_is_an_error_with_position(tmp_path: Path) -> None:
    (tmp_path / "latin1.nomad").write_bytes(b'job "x" {\n  meta { owner = "J\xfcrgen" }\n}\n')
    write(tmp_path, "ok.json", json_job("ok"))
    snap = load_directory(tmp_path, inputs=NO_INPUTS)
    assert [j.job_id for j in snap.jobs] == ["ok"]
    (err,) = snap.errors
    assert (err.path, err.line, err.column) == ("latin1.nomad", 2, 20)
    assert "not UTF-8" in err.message


def test_benchmark_repository_loads_cleanly_in_a_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The benchmark's generated jobs must be valid, and the real HCL2 converter
    # must give the same snapshot in pool workers as in this process.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate_jobs", Path(__file__).parents[2] / "bench" / "generate_jobs.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.generate(tmp_path, count=20, seed=7)

    monkeypatch.setattr(parse_pool, "POOL_MIN_FILES", 4)
    monkeypatch.setattr(parse_pool, "POOL_CHUNK", 3)
    pooled = load_directory(tmp_path, inputs=NO_INPUTS, workers=2)
    serial = load_directory(tmp_path, inputs=NO_INPUTS, workers=1)
    assert [d.describe() for d in pooled.errors] == []
    assert len(pooled.jobs) == 20
    assert {j.source_format for j in pooled.jobs} == {"hcl2", "json"}
    assert {j.namespace for j in pooled.jobs} == {"default", "platform"}
    assert pooled == serial


def test_environment_inputs_reach_pool_workers_and_only_nomad_vars_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # os.environ itself cannot be pickled to a pool worker; unrelated variables
    # must not invalidate the cache.
    monkeypatch.setattr(parse_pool, "POOL_MIN_FILES", 2)
    monkeypatch.setattr(parse_pool, "POOL_CHUNK", 1)
    for i in range(3):
        write(tmp_path, f"job{i}.json", json_job(f"job{i}"))
    monkeypatch.setenv("UNRELATED", "1")
    cache = LoadCache()
    snap = load_directory(tmp_path, inputs=VariableInputs(env=os.environ), cache=cache, workers=2)
    assert len(snap.jobs) == 3 and snap.errors == ()
    monkeypatch.setenv("UNRELATED", "2")
    load_directory(tmp_path, inputs=VariableInputs(env=os.environ), cache=cache, workers=2)
    assert cache.parsed == ()
    monkeypatch.setenv("NOMAD_VAR_replicas", "3")
    load_directory(tmp_path, inputs=VariableInputs(env=os.environ), cache=cache, workers=2)
    assert len(cache.parsed) == 3


def test_filesystem_functions_read_only_inside_the_jobs_directory(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    write(tmp_path, "secret.txt", "s3cr3t")
    write(root, "motd.txt", "hello")
    job = (
        'job "{id}" {{\n  datacenters = ["dc1"]\n  meta {{\n    text = file("{file}")\n  }}\n'
        '  group "g" {{\n    task "t" {{\n      driver = "exec"\n'
        '      config {{\n        command = "/bin/true"\n      }}\n    }}\n  }}\n}}\n'
    )
    write(root, "inside.nomad", job.format(id="inside", file="motd.txt"))
    write(root, "outside.nomad", job.format(id="outside", file="../secret.txt"))
    write(root, "absolute.nomad", job.format(id="absolute", file=str(tmp_path / "secret.txt")))
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    write(root, "viasymlink.nomad", job.format(id="viasymlink", file="link.txt"))

    snap = load_directory(root, inputs=NO_INPUTS)
    assert [(j.job_id, j.job["Meta"]) for j in snap.jobs] == [("inside", {"text": "hello"})]
    errors = {e.path: e for e in snap.errors}
    assert set(errors) == {"outside.nomad", "absolute.nomad", "viasymlink.nomad"}
    for err in errors.values():
        assert "outside the jobs directory" in err.message and err.line == 4
    assert all("s3cr3t" not in e.message for e in snap.errors)


def test_every_filesystem_function_is_confined_to_the_jobs_directory(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    write(tmp_path, "outside/secret-name.txt", "s3cr3t")
    write(root, "conf/a.txt", "a")
    os.symlink(tmp_path / "outside", root / "linked-dir")
    job = (
        'job "{id}" {{\n  datacenters = ["dc1"]\n  meta {{\n    v = {expr}\n  }}\n'
        '  group "g" {{\n    task "t" {{\n      driver = "exec"\n'
        '      config {{\n        command = "/bin/true"\n      }}\n    }}\n  }}\n}}\n'
    )
    depth = "../" * (len(tmp_path.parts) + 2)
    climbing = {
        "fileset-climbs": f'jsonencode(fileset(".", "{depth}etc/*"))',
        "fileset-sibling": 'jsonencode(fileset(".", "../outside/*"))',
        "fileset-recursive": 'jsonencode(fileset(".", "**/*.txt"))',  # follows linked-dir/
        "fileset-symlink-dir": 'jsonencode(fileset("linked-dir", "*"))',
        "fileexists-outside": 'fileexists("../outside/secret-name.txt")',
        "abspath-outside": 'abspath("../outside")',
        "file-via-dir-link": 'file("linked-dir/secret-name.txt")',
    }
    for name, expr in climbing.items():
        write(root, f"{name}.nomad", job.format(id=name, expr=expr))
    inside = {
        "fileset-inside": ('jsonencode(fileset("conf", "*.txt"))', '["a.txt"]'),
        "fileexists-inside": ('fileexists("conf/a.txt")', "true"),
        "abspath-inside": ('abspath("conf")', str(root / "conf")),
    }
    for name, (expr, _) in inside.items():
        write(root, f"{name}.nomad", job.format(id=name, expr=expr))

    snap = load_directory(root, inputs=NO_INPUTS)
    assert {j.job_id: j.job["Meta"]["v"] for j in snap.jobs} == {
        name: want for name, (_, want) in inside.items()
    }
    errors = {e.path: e for e in snap.errors if e.path != "linked-dir"}  # discovery's own
    assert set(errors) == {f"{name}.nomad" for name in climbing}
    for err in errors.values():
        assert "outside the jobs directory" in err.message and err.line == 4, err
        assert "s3cr3t" not in err.message
        if err.path.startswith("fileset"):  # names found outside are never shown
            assert "secret-name" not in err.message and "passwd" not in err.message


def test_error_in_a_companion_var_file_names_that_file_and_its_line(tmp_path: Path) -> None:
    write(tmp_path, "web.nomad", 'variable "n" {\n  type = number\n}\n' + (
        'job "web" {\n  datacenters = ["dc1"]\n  group "g" {\n    count = var.n\n'
        '    task "t" {\n      driver = "exec"\n      config {\n        command = "/bin/true"\n'
        '      }\n    }\n  }\n}\n'))
    write(tmp_path, "web.vars.hcl", '\n\nn = "not a number"\n')
    snap = load_directory(tmp_path, inputs=NO_INPUTS)
    (err,) = snap.errors
    assert err.path == "web.nomad"
    assert err.message.startswith("in web.vars.hcl:3: "), err.message
    assert err.line is None  # line 3 of the var file is not a line of web.nomad


def test_files_over_the_size_cap_are_errors_and_never_parsed(tmp_path: Path) -> None:
    small = 'job "{id}" {{\n  datacenters = ["dc1"]\n  group "g" {{\n    task "t" {{\n      driver = "exec"\n      config {{\n        command = "/bin/true"\n      }}\n    }}\n  }}\n}}\n'
    write(tmp_path, "ok.nomad", small.format(id="ok"))
    write(tmp_path, "big.nomad", small.format(id="big") + "# padding\n" * 200)
    write(tmp_path, "withvars.nomad", small.format(id="withvars"))
    write(tmp_path, "withvars.vars.hcl", 'x = "' + "y" * 3000 + '"\n')
    parsed: list[str] = []

    def recording_parser(text: str, **kwargs: Any) -> Any:
        parsed.append(kwargs["path"])
        return parse_job_source(text, **kwargs)

    snap = load_directory(
        tmp_path, inputs=NO_INPUTS, parser=recording_parser, max_file_size=1024
    )
    assert [j.job_id for j in snap.jobs] == ["ok"]
    assert parsed == ["ok.nomad"]
    errors = {e.path: e.message for e in snap.errors}
    assert errors == {
        "big.nomad": f"big.nomad is {(tmp_path / 'big.nomad').stat().st_size} bytes, more than "
        "the 1024-byte limit for a job file (--max-file-size); not parsed",
        "withvars.nomad": "withvars.vars.hcl is 3007 bytes, more than the 1024-byte limit for "
        "a job file (--max-file-size); not parsed",
    }
    # The default leaves room for any real job.
    assert "big" in {j.job_id for j in load_directory(tmp_path, inputs=NO_INPUTS).jobs}


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1048576), ("256KiB", 262144), ("1MiB", 1048576), ("1m", 1048576),
     ("2MB", 2_000_000), ("512 kib", 524288), ("1GiB", 1 << 30)],
)  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert loader_module.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5MiB", "1 TB", "lots", "True"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    from reconciler.errors import ConfigError

    with pytest.raises(ConfigError, match="--max-file-size"):
        loader_module.parse_size(text)


def test_a_file_read_with_file_obeys_the_size_cap(tmp_path: Path) -> None:
    job = (
        'job "{id}" {{\n  datacenters = ["dc1"]\n  meta {{\n    blob = file("{name}")\n  }}\n'
        '  group "g" {{\n    task "t" {{\n      driver = "exec"\n      config {{\n'
        '        command = "/bin/true"\n      }}\n    }}\n  }}\n}}\n'
    )
    write(tmp_path, "small.txt", "s" * 1000)
    write(tmp_path, "big.txt", "b" * 5000)
    write(tmp_path, "reads-small.nomad", job.format(id="reads-small", name="small.txt"))
    write(tmp_path, "reads-big.nomad", job.format(id="reads-big", name="big.txt"))

    snap = load_directory(tmp_path, inputs=NO_INPUTS, max_file_size=1024)
    assert [j.job_id for j in snap.jobs] == ["reads-small"]
    (err,) = snap.errors
    assert err.path == "reads-big.nomad" and err.line == 4, err
    assert "big.txt is 5000 bytes, more than the 1024-byte limit for a file a job reads " \
        "(--max-file-size); not read" in err.message
    # The same file under the default limit is read.
    loaded = load_directory(tmp_path, inputs=NO_INPUTS)
    assert {j.job_id for j in loaded.jobs} == {"reads-small", "reads-big"}
