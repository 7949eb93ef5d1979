"""Which files of a jobs directory are jobs: real files, links and ignore files in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.jobspec.discovery import (
    JobFile,
    NameKind,
    SourceFormat,
    classify_name,
    companion_names,
    discover_job_files,
)

HCL_JOB = 'job "x" {\n  datacenters = ["dc1"]\n}\n'
JSON_JOB = '{"Job": {"ID": "x", "TaskGroups": []}}'


def write(root: Path, rel: str, text: str = HCL_JOB) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def paths(found: list[JobFile]) -> list[str]:
    return [f.path for f in found]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("web.nomad", NameKind.JOB_HCL),
        ("web.nomad.hcl", NameKind.JOB_HCL),
        ("WEB.NOMAD", NameKind.JOB_HCL),
        ("web.hcl", NameKind.MAYBE_HCL),
        ("web.json", NameKind.MAYBE_JSON),
        ("web.vars.hcl", NameKind.VARIABLES),
        ("web.vars.json", NameKind.VARIABLES),
        ("prod.auto.vars.hcl", NameKind.VARIABLES),
        ("build.pkrvars.hcl", NameKind.VARIABLES),
        ("x.tfvars", NameKind.VARIABLES),
        ("x.tfvars.json", NameKind.VARIABLES),
        ("README.md", NameKind.OTHER),
        ("web.nomad.bak", NameKind.OTHER),
    ],
)
def test_classify_name(name: str, kind: NameKind) -> None:
    assert classify_name(name) is kind


@pytest.mark.parametrize(
    ("name", "companions"),
    [
        ("web.nomad", ("web.vars.hcl", "web.vars.json")),
        ("web.nomad.hcl", ("web.vars.hcl", "web.vars.json")),
        ("web.hcl", ("web.vars.hcl", "web.vars.json")),
        ("web.json", ()),
    ],
)
def test_companion_names(name: str, companions: tuple[str, ...]) -> None:
    assert companion_names(name) == companions


def test_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    write(tmp_path, "platform/b.nomad")
    write(tmp_path, "platform/a.nomad.hcl")
    write(tmp_path, "default/web.nomad")
    write(tmp_path, "default/web.vars.hcl", "replicas = 2\n")
    write(tmp_path, "default/api.json", JSON_JOB)
    write(tmp_path, "default/package.json", '{"name": "x"}')
    write(tmp_path, "default/agent.hcl", 'client {\n  enabled = true\n}\n')
    write(tmp_path, "default/plain-job.hcl")
    write(tmp_path, "default/notes.md", "# notes")
    write(tmp_path, "top.nomad")
    found = discover_job_files(tmp_path)
    assert paths(found) == [
        "default/api.json",
        "default/plain-job.hcl",
        "default/web.nomad",
        "platform/a.nomad.hcl",
        "platform/b.nomad",
        "top.nomad",
    ]
    formats = {f.path: f.format for f in found}
    assert formats["default/api.json"] is SourceFormat.JSON
    assert formats["default/web.nomad"] is SourceFormat.HCL2
    assert all(f.problem is None for f in found)


def test_hidden_directories_and_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, ".git/objects/x.nomad")
    write(tmp_path, ".github/workflows/ci.nomad")
    write(tmp_path, "apps/.draft.nomad")
    write(tmp_path, "apps/web.nomad")
    assert paths(discover_job_files(tmp_path)) == ["apps/web.nomad"]


def test_companion_variable_files_are_attached(tmp_path: Path) -> None:
    write(tmp_path, "apps/web.nomad")
    write(tmp_path, "apps/web.vars.hcl", "a = 1\n")
    write(tmp_path, "apps/web.vars.json", '{"b": 2}')
    write(tmp_path, "apps/api.nomad.hcl")
    write(tmp_path, "apps/api.vars.hcl", "a = 1\n")
    write(tmp_path, "apps/db.nomad")
    by_path = {f.path: f for f in discover_job_files(tmp_path)}
    assert by_path["apps/web.nomad"].var_files == ("apps/web.vars.hcl", "apps/web.vars.json")
    assert by_path["apps/api.nomad.hcl"].var_files == ("apps/api.vars.hcl",)
    assert by_path["apps/db.nomad"].var_files == ()


def test_reconcilerignore_uses_gitignore_syntax(tmp_path: Path) -> None:
    write(tmp_path, ".reconcilerignore", "# comments are fine\ndrafts/\n*.wip.nomad\n!keep.wip.nomad\n/top-only.nomad\n")
    write(tmp_path, "drafts/a.nomad")
    write(tmp_path, "apps/drafts/b.nomad")
    write(tmp_path, "apps/c.wip.nomad")
    write(tmp_path, "apps/keep.wip.nomad")
    write(tmp_path, "top-only.nomad")
    write(tmp_path, "apps/top-only.nomad")
    write(tmp_path, "apps/web.nomad")
    assert paths(discover_job_files(tmp_path)) == [
        "apps/keep.wip.nomad",
        "apps/top-only.nomad",
        "apps/web.nomad",
    ]


def test_symlinks_inside_are_followed(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    write(root, "shared/web.nomad")
    (root / "apps").mkdir()
    os.symlink(root / "shared/web.nomad", root / "apps/web-link.nomad")
    os.symlink(root / "shared", root / "linked-dir")
    found = discover_job_files(root)
    assert paths(found) == ["apps/web-link.nomad", "shared/web.nomad"]
    assert all(f.problem is None for f in found)


def test_symlinks_outside_are_problems_and_never_read(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    write(root, "apps/web.nomad")
    outside = write(tmp_path, "secret/evil.nomad")
    write(tmp_path, "secret/more.nomad")
    write(tmp_path, "secret/data.json", JSON_JOB)
    os.symlink(outside, root / "apps/evil.nomad")
    os.symlink(tmp_path / "secret/data.json", root / "apps/data.json")
    os.symlink(tmp_path / "secret", root / "outside-dir")
    found = {f.path: f for f in discover_job_files(root)}
    assert set(found) == {"apps/data.json", "apps/evil.nomad", "apps/web.nomad", "outside-dir"}
    assert found["apps/web.nomad"].problem is None
    for rel in ("apps/data.json", "apps/evil.nomad", "outside-dir"):
        assert "outside the jobs directory" in (found[rel].problem or ""), rel


def test_dangling_link_with_job_name_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "apps/web.nomad")
    os.symlink(tmp_path / "apps/gone.nomad", tmp_path / "apps/dangling.nomad")
    found = {f.path: f for f in discover_job_files(tmp_path)}
    assert found["apps/dangling.nomad"].problem == "broken symlink"


def test_directory_link_loop_terminates(tmp_path: Path) -> None:
    write(tmp_path, "apps/web.nomad")
    os.symlink(tmp_path / "apps", tmp_path / "apps/again")
    assert paths(discover_job_files(tmp_path)) == ["apps/web.nomad"]


def test_companion_link_outside_is_a_problem_of_the_job(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    write(root, "web.nomad")
    outside = write(tmp_path, "elsewhere.vars.hcl", "a = 1\n")
    os.symlink(outside, root / "web.vars.hcl")
    (found,) = discover_job_files(root)
    assert found.path == "web.nomad"
    assert "web.vars.hcl" in (found.problem or "")


def test_root_may_itself_be_a_symlink_as_git_sync_makes_it(tmp_path: Path) -> None:
    # git-sync publishes each revision as a worktree behind a symlink it swaps.
    worktree = tmp_path / "rev-abc123"
    write(worktree, "apps/web.nomad")
    os.symlink(worktree / "apps/web.nomad", worktree / "apps/alias.nomad")
    os.symlink(worktree, tmp_path / "current")
    found = discover_job_files(tmp_path / "current")
    assert paths(found) == ["apps/alias.nomad", "apps/web.nomad"]
    assert all(f.problem is None for f in found)


def test_a_fifo_with_a_job_name_is_a_problem_not_a_blocking_read(tmp_path: Path) -> None:
    write(tmp_path, "web.nomad")
    os.mkfifo(tmp_path / "pipe.nomad")
    os.mkfifo(tmp_path / "pipe.json")
    found = {f.path: f for f in discover_job_files(tmp_path)}
    assert found["web.nomad"].problem is None
    assert found["pipe.nomad"].problem == "not a regular file; not read"
    assert found["pipe.json"].problem == "not a regular file; not read"


def test_a_fifo_companion_is_a_problem_of_the_job(tmp_path: Path) -> None:
    write(tmp_path, "web.nomad")
    os.mkfifo(tmp_path / "web.vars.hcl")
    (found,) = discover_job_files(tmp_path)
    assert found.problem == "companion variable file web.vars.hcl is not a regular file"


@pytest.mark.parametrize(
    ("text", "is_job"),
    [
        ('job "web" {\n}\n', True),
        ("  job web {\n}\n", True),
        ('variable "x" {}\n', False),
        ('client {\n  job_gc_interval = "5m"\n}\n', False),
        ('# job "commented" would be a job in a .nomad file\nname = "x"\n', False),
    ],
)
def test_plain_hcl_file_is_a_job_only_with_a_job_block(tmp_path: Path, text: str, is_job: bool) -> None:
    write(tmp_path, "thing.hcl", text)
    assert paths(discover_job_files(tmp_path)) == (["thing.hcl"] if is_job else [])
