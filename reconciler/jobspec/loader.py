"""Loading a jobs directory into a ``Snapshot`` (the file edge of the reconciler).

Responsibility: find the job files (``discovery``), read them, turn each into
a ``DesiredJob`` (parsed, canonicalized and digested by ``file_parser``) or into an error ``Diagnostic`` naming the file, line and
reason.  One bad file never stops the others; two files declaring the same
(namespace, job ID) are an error of both, and neither job is loaded.

Speed: a ``LoadCache`` remembers, per file, a content fingerprint (SHA-256 of
the job text, its variable files' texts and the variable inputs) and the
outcome.  A re-scan still reads and hashes every file but re-parses only those
whose fingerprint changed.  A cold load of many files parses in a process
pool (``parse_pool``).  Jobs that call filesystem functions (``file(...)``, ``fileset(...)``...)
depend on files the fingerprint does not cover, so they are re-parsed on
every load.

It must not talk to Nomad or know about git; it reads only inside the root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import ConfigError
from reconciler.jobspec.discovery import JobFile, discover_job_files
from reconciler.jobspec.file_parser import (
    FailedJob,
    JobParser,
    Outcome,
    ParseWork,
    parse_job_source,
)
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.jobspec.parse_pool import parse_all
from reconciler.model import DesiredJob, Diagnostic, JobKey, Snapshot

if TYPE_CHECKING:
    from reconciler.jobspec.variables import VariableInputs

_SIZE = re.compile(r"(?i)\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
_SIZE_UNITS = {
    None: 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2, "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
}  # fmt: skip


def parse_size(value: object, *, name: str = "--max-file-size") -> int:
    """``1048576``, ``512KiB``, ``1MiB``, ``2MB`` (decimal), ``1m`` (binary) → bytes (> 0)."""
    match = _SIZE.fullmatch(str(value)) if isinstance(value, int | str) else None
    if match is None or isinstance(value, bool):
        raise ConfigError(f"{name}: expected a size such as 1MiB, 512KiB or 1048576, got {value!r}")
    size = int(match.group(1)) * _SIZE_UNITS[match.group(2) and match.group(2).lower()]
    if size <= 0:
        raise ConfigError(f"{name}: the size must be positive, got {value!r}")
    return size


class FileTooLarge(Exception):
    """A file over the size limit (never read whole)."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(path, size)
        self.path, self.size = path, size


_FS_FUNCTION_CALL = re.compile(r"\b(?:file|filebase64|fileexists|fileset)\s*\(")


def _uses_fs_functions(source: str) -> bool:
    # The substring test first: the regex alone costs more than reading the file.
    return "file" in source and _FS_FUNCTION_CALL.search(source) is not None


def _read_bytes(base: str, rel: str, *, limit: int) -> bytes:
    """The file's bytes; ``FileTooLarge`` past ``limit`` (reads at most ``limit + 1`` bytes)."""
    with open(os.path.join(base, rel), "rb") as fh:
        data = fh.read(limit + 1)
        if len(data) > limit:
            raise FileTooLarge(rel, max(os.fstat(fh.fileno()).st_size, len(data)))
        return data


def _too_large(rel: str, size: int, limit: int) -> str:
    return (
        f"{rel} is {size} bytes, more than the {limit}-byte limit for a job file "
        "(--max-file-size); not parsed"
    )


@dataclass
class LoadCache:
    """Per-file outcomes of earlier loads, keyed by content fingerprint.

    Not thread-safe: use one cache from one loading thread at a time.  Jobs
    in successive snapshots share their dicts with the cache, so consumers must
    treat ``DesiredJob.job``/``canonical`` as read-only (copy before changing).
    ``parsed`` lists the files parsed by the last ``load_directory`` call and
    ``parse_count`` counts parses over the cache's life (for tests and metrics).
    """

    entries: dict[str, tuple[str, str, Outcome]] = dataclasses.field(default_factory=dict)
    parsed: tuple[str, ...] = ()
    parse_count: int = 0

    def lookup(self, path: str, fingerprint: str) -> tuple[str, Outcome] | None:
        """(source text, outcome) stored for ``path`` if its fingerprint still matches."""
        hit = self.entries.get(path)
        if hit is None or hit[0] != fingerprint:
            return None
        return hit[1], hit[2]

    def store(self, path: str, fingerprint: str, source: str, outcome: Outcome) -> None:
        self.entries[path] = (fingerprint, source, outcome)

    def retain(self, paths: Iterable[str]) -> None:
        """Forget files that are gone, so the cache never outgrows the directory."""
        keep = set(paths)
        for path in [p for p in self.entries if p not in keep]:
            del self.entries[path]


def load_directory(
    root: str | os.PathLike[str],
    *,
    inputs: VariableInputs,
    cache: LoadCache | None = None,
    parser: JobParser = parse_job_source,
    workers: int | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> Snapshot:
    """Load every job file under ``root`` (see ``discovery`` for which files).

    ``inputs`` are the variable values given to the reconciler (``-var``,
    ``-var-file``, ``NOMAD_VAR_*``); a job's companion ``X.vars.hcl`` is applied
    before the ``-var-file`` files, so explicit flags win.  ``workers`` is the
    number of processes that parse, this one included (default
    ``parse_pool.default_workers()``); a pool is only used with the default parser and at
    least ``parse_pool.POOL_MIN_FILES`` files to parse.  A job or companion variables
    file larger than ``max_file_size`` bytes is an error of that job, never
    read whole nor parsed.
    """
    base = Path(root)
    base_str = os.fspath(base)
    files = discover_job_files(base)
    diagnostics: list[Diagnostic] = []
    outcomes: dict[str, Outcome] = {}
    pending: list[tuple[ParseWork, str]] = []
    texts: dict[str, str] = {}
    # Only NOMAD_VAR_* matter; a plain dict also pickles (os.environ does not).
    env = {k: v for k, v in inputs.env.items() if k.startswith("NOMAD_VAR_")}
    inputs = dataclasses.replace(inputs, env=env)
    global_vars = _fingerprint_var_files(inputs.files)
    inputs_key = _inputs_key(inputs) + global_vars

    for job_file in files:
        if job_file.problem is not None:
            diagnostics.append(Diagnostic(path=job_file.path, message=job_file.problem))
            continue
        try:
            text = _read_bytes(base_str, job_file.path, limit=max_file_size)
            var_texts = [
                _read_bytes(base_str, v, limit=max_file_size) for v in job_file.var_files
            ]
        except FileTooLarge as exc:
            message = _too_large(exc.path, exc.size, max_file_size)
            diagnostics.append(Diagnostic(path=job_file.path, message=message))
            continue
        except OSError as exc:
            diagnostics.append(
                Diagnostic(path=job_file.path, message=f"cannot read: {exc.strerror or exc}")
            )
            continue
        fingerprint = _fingerprint(job_file, text, var_texts, inputs_key)
        hit = cache.lookup(job_file.path, fingerprint) if cache is not None else None
        if hit is not None:
            texts[job_file.path], outcomes[job_file.path] = hit
            continue
        try:
            source = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text.count(b"\n", 0, exc.start) + 1
            column = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
            diagnostics.append(Diagnostic(
                path=job_file.path, line=line, column=column,
                message=f"not UTF-8 text (byte 0x{text[exc.start]:02x}); job files must be UTF-8",
            ))
            continue
        texts[job_file.path] = source
        work = ParseWork(
            path=job_file.path,
            text=source,
            source_format=job_file.format,
            inputs=_with_companions(inputs, base, job_file),
            base_dir=str((base / job_file.path).parent),
            fs_root=base_str,
            read_limit=max_file_size,
        )
        pending.append((work, fingerprint))

    results = parse_all([w for w, _ in pending], parser=parser, workers=workers)
    for (work, fingerprint), outcome in zip(pending, results, strict=True):
        outcomes[work.path] = outcome
        # A job reading other files (file(), fileset()...) is never cached: the
        # fingerprint cannot see those files change.
        if cache is not None and not _uses_fs_functions(work.text):
            cache.store(work.path, fingerprint, work.text, outcome)
    if cache is not None:
        cache.parsed = tuple(w.path for w, _ in pending)
        cache.parse_count += len(pending)
        cache.retain(f.path for f in files)

    sources = {f.path: f for f in files}
    jobs = _collect_jobs(texts, sources, outcomes, diagnostics)
    diagnostics.sort(key=lambda d: (d.path, d.line or 0, d.column or 0))
    return Snapshot(root=str(base), jobs=tuple(jobs), errors=tuple(diagnostics))


def _collect_jobs(
    texts: dict[str, str],
    sources: dict[str, JobFile],
    outcomes: dict[str, Outcome],
    diagnostics: list[Diagnostic],
) -> list[DesiredJob]:
    by_key: dict[JobKey, list[DesiredJob]] = {}
    for path in sorted(outcomes):
        outcome = outcomes[path]
        if isinstance(outcome, FailedJob):
            diagnostics.append(Diagnostic(
                path=path, message=outcome.reason, line=outcome.line, column=outcome.column,
            ))
            continue
        job = outcome.job
        source_format = sources[path].format
        desired = DesiredJob(
            path=path,
            job_id=str(job.get("ID")),
            namespace=job.get("Namespace") or "default",
            region=job.get("Region") or "global",
            job=job,
            canonical=outcome.canonical,
            digest=outcome.digest,
            source=texts[path],
            source_format=source_format.value,
        )
        by_key.setdefault(desired.key, []).append(desired)
    jobs: list[DesiredJob] = []
    for (namespace, job_id), declared in by_key.items():
        if len(declared) == 1:
            jobs.append(declared[0])
            continue
        paths = [d.path for d in declared]
        for d in declared:
            others = ", ".join(p for p in paths if p != d.path)
            diagnostics.append(Diagnostic(
                path=d.path,
                message=f'job "{job_id}" in namespace "{namespace}" is also declared in '
                f"{others}; none of them is loaded",
                rule="duplicate-job",
            ))
    jobs.sort(key=lambda j: j.path)
    return jobs


def _with_companions(inputs: VariableInputs, base: Path, job_file: JobFile) -> VariableInputs:
    if not job_file.var_files:
        return inputs
    companions = tuple(str(base / v) for v in job_file.var_files)
    return dataclasses.replace(inputs, files=(*companions, *inputs.files))


def _inputs_key(inputs: VariableInputs) -> str:
    return repr((tuple(inputs.cli), sorted(inputs.env.items()), tuple(inputs.files)))


def _fingerprint_var_files(files: Iterable[str]) -> str:
    """Hash the ``-var-file`` contents so that editing one invalidates the cache."""
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(Path(f).read_bytes())
        except OSError:
            h.update(b"\0unreadable\0")
        h.update(b"\0")
    return h.hexdigest()


def _fingerprint(job_file: JobFile, text: bytes, var_texts: list[bytes], inputs_key: str) -> str:
    h = hashlib.sha256()
    h.update(job_file.format.value.encode())
    h.update(b"\0")
    h.update(text)
    for name, content in zip(job_file.var_files, var_texts, strict=True):
        h.update(b"\0" + name.encode() + b"\0" + content)
    h.update(b"\0" + inputs_key.encode())
    return h.hexdigest()
