"""Which files of a jobs directory are job files.

Responsibility: walk a jobs directory and list its job files in a
deterministic order (sorted by relative POSIX path), with each job's companion
variable files, and report the files that cannot be used (a symlink leading
out of the directory, an unreadable file) as problems of those files.  It
reads only what it must to decide (the text of ``.hcl`` and ``.json``
candidates); it never parses a job.

The rules (also in ``jobs/README.md``):

* Hidden files and directories (name starting with ``.``, so ``.git`` too) are
  skipped, and so is everything matched by ``.reconcilerignore`` at the root of
  the jobs directory (gitignore syntax; only the root file is read).
* Variable files are never jobs: names ending in ``.vars.hcl``,
  ``.vars.json`` (this covers ``.auto.vars.*``), ``.pkrvars.hcl``,
  ``.pkrvars.json``, ``.tfvars`` and ``.tfvars.json``.
* ``*.nomad`` and ``*.nomad.hcl`` are always HCL2 job files.
* Any other ``*.hcl`` is an HCL2 job file only if it has a top-level
  ``job "NAME"`` block (so agent configs or variable files beside jobs are
  left alone).
* ``*.json`` is a JSON job specification only if it has a ``"Job"`` or
  ``"TaskGroups"`` key (so ``package.json`` and the like are left alone).
* Companion variables: ``X.vars.hcl`` and then ``X.vars.json`` next to an HCL2
  job ``X.nomad`` / ``X.nomad.hcl`` / ``X.hcl`` are applied to it
  automatically.  JSON jobs take no variables (as in Nomad).
* Symbolic links are followed only while they stay inside the jobs directory;
  a link to a file or directory outside it is a problem of that link (the
  target is not read), as is a dangling link with a job-file name.  A linked
  directory is walked only if the walk did not reach its target anyway (no
  job is listed twice through it); a linked file is listed under the link's
  name, so a link to a job file in the tree declares that job twice.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pathspec

IGNORE_FILE = ".reconcilerignore"

_VAR_FILE_SUFFIXES = (
    ".vars.hcl", ".vars.json", ".pkrvars.hcl", ".pkrvars.json", ".tfvars", ".tfvars.json",
)
_HCL_JOB_SUFFIXES = (".nomad.hcl", ".nomad")
_COMPANION_SUFFIXES = (".vars.hcl", ".vars.json")
_HCL_JOB_BLOCK = re.compile(r'^[ \t]*job[ \t]+["A-Za-z_]', re.MULTILINE)
_JSON_JOB_KEY = re.compile(r'"(?:job|taskgroups)"\s*:', re.IGNORECASE)


class SourceFormat(enum.StrEnum):
    HCL2 = "hcl2"
    JSON = "json"


class NameKind(enum.Enum):
    """What a file name alone says about a file."""

    JOB_HCL = "job-hcl"  # *.nomad, *.nomad.hcl
    MAYBE_HCL = "maybe-hcl"  # other *.hcl: a job if it has a job block
    MAYBE_JSON = "maybe-json"  # *.json: a job if it has a Job/TaskGroups key
    VARIABLES = "variables"
    OTHER = "other"


@dataclass(frozen=True)
class JobFile:
    """One job file found under the jobs directory.

    ``path`` is relative to the root with ``/`` separators; ``var_files`` are
    its companion variable files, relative too.  ``problem`` is set, and the
    file must not be read, when it cannot be used (it is then an error of
    this file only).
    """

    path: str
    format: SourceFormat
    var_files: tuple[str, ...] = ()
    problem: str | None = None


def classify_name(name: str) -> NameKind:
    """Classify a file by its name (pure)."""
    lower = name.lower()
    if lower.endswith(_VAR_FILE_SUFFIXES):
        return NameKind.VARIABLES
    if lower.endswith(_HCL_JOB_SUFFIXES):
        return NameKind.JOB_HCL
    if lower.endswith(".hcl"):
        return NameKind.MAYBE_HCL
    if lower.endswith(".json"):
        return NameKind.MAYBE_JSON
    return NameKind.OTHER


def looks_like_job(kind: NameKind, text: str) -> bool:
    """Whether a candidate's text is a job (pure); see the module rules."""
    if kind is NameKind.JOB_HCL:
        return True
    if kind is NameKind.MAYBE_HCL:
        return _HCL_JOB_BLOCK.search(text) is not None
    if kind is NameKind.MAYBE_JSON:
        return _JSON_JOB_KEY.search(text) is not None
    return False


def companion_names(name: str) -> tuple[str, ...]:
    """Names of the variable files that go with job file ``name`` (pure)."""
    lower = name.lower()
    for suffix in (*_HCL_JOB_SUFFIXES, ".hcl"):
        if lower.endswith(suffix):
            stem = name[: -len(suffix)]
            return tuple(stem + s for s in _COMPANION_SUFFIXES)
    return ()


def read_ignore_spec(root: Path) -> pathspec.GitIgnoreSpec:
    """The root ``.reconcilerignore`` as a matcher (empty when there is none)."""
    try:
        lines = (root / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def discover_job_files(root: str | os.PathLike[str]) -> list[JobFile]:
    """All job files under ``root``, sorted by relative path (see the module rules)."""
    base = Path(root)
    real_root = base.resolve()
    walk = _Walk(real_root, read_ignore_spec(base))
    walk.directory(base, "")
    # Linked directories are walked last, and only if the real walk did not reach
    # their target: a link to a directory already in the tree would list its jobs twice.
    while walk.deferred:
        link, rel, target = walk.deferred.pop(0)
        if target not in walk.visited:
            walk.directory(link, rel)
    walk.found.sort(key=lambda f: f.path)
    return walk.found


def _inside(real_root: Path, target: Path) -> bool:
    return target == real_root or real_root in target.parents


class _Walk:
    def __init__(self, real_root: Path, ignore: pathspec.GitIgnoreSpec) -> None:
        self.real_root = real_root
        self.ignore = ignore
        self.visited: set[Path] = set()
        self.deferred: list[tuple[Path, str, Path]] = []
        self.found: list[JobFile] = []

    def directory(self, directory: Path, rel: str) -> None:
        self.visited.add(directory.resolve())
        _walk_dir(directory, rel, self)


def _walk_dir(directory: Path, rel: str, walk: _Walk) -> None:
    real_root, ignore, found = walk.real_root, walk.ignore, walk.found
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        found.append(JobFile(rel or ".", SourceFormat.HCL2, problem=f"cannot list: {exc.strerror}"))
        return
    by_name = {e.name: e for e in entries}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel_path = f"{rel}{entry.name}"
        is_link = entry.is_symlink()
        target: Path | None = None
        if is_link:
            target = Path(entry.path).resolve()
        if entry.is_dir(follow_symlinks=True):
            if ignore.match_file(rel_path + "/"):
                continue
            if target is not None:
                if not _inside(real_root, target):
                    found.append(JobFile(
                        rel_path, SourceFormat.HCL2,
                        problem="symlinked directory points outside the jobs directory; not followed",
                    ))
                    continue
                walk.deferred.append((Path(entry.path), rel_path + "/", target))
                continue
            walk.directory(Path(entry.path), rel_path + "/")
            continue
        kind = classify_name(entry.name)
        if kind in (NameKind.VARIABLES, NameKind.OTHER) or ignore.match_file(rel_path):
            continue
        fmt = SourceFormat.JSON if kind is NameKind.MAYBE_JSON else SourceFormat.HCL2
        if target is not None:
            if not target.exists():
                if kind is NameKind.JOB_HCL:
                    found.append(JobFile(rel_path, fmt, problem="broken symlink"))
                continue
            if not _inside(real_root, target):
                found.append(JobFile(
                    rel_path, fmt,
                    problem="symlink points outside the jobs directory; not read",
                ))
                continue
        if not entry.is_file(follow_symlinks=True):
            # A FIFO or device would block or stream forever when read.
            found.append(JobFile(rel_path, fmt, problem="not a regular file; not read"))
            continue
        if kind is not NameKind.JOB_HCL:
            try:
                text = Path(entry.path).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                found.append(JobFile(rel_path, fmt, problem=f"cannot read: {exc.strerror}"))
                continue
            if not looks_like_job(kind, text):
                continue
        companions: list[str] = []
        problem = None
        if fmt is SourceFormat.HCL2:
            for name in companion_names(entry.name):
                companion = by_name.get(name)
                if companion is None:
                    continue
                if companion.is_symlink() and not _inside(
                    real_root, Path(companion.path).resolve()
                ):
                    problem = f"companion variable file {name} points outside the jobs directory"
                elif not companion.is_file(follow_symlinks=True):
                    problem = f"companion variable file {name} is not a regular file"
                companions.append(f"{rel}{name}")
        found.append(JobFile(rel_path, fmt, var_files=tuple(companions), problem=problem))
