"""The variable inputs of one job, as Nomad's APIs take them.

Two consumers: ``Submission`` on register (Nomad ≥ 1.6 stores the source,
``VariableFlags`` = the ``-var`` values and ``Variables`` = the var-file
text), and ``--parser server`` (``/v1/jobs/parse`` takes one var-file text,
so ``NOMAD_VAR_*``, the var files and ``-var`` are merged into one, later
sources overriding earlier ones as the CLI does: env < files < ``-var``).

Reads the job's companion ``X.vars.hcl``/``X.vars.json`` and the
``--var-file`` files; never talks to Nomad.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.jobspec.discovery import companion_names
from reconciler.model import DesiredJob

_TOP_LEVEL_ASSIGNMENT = re.compile(r"^([A-Za-z_][\w-]*)\s*=")


@dataclass(frozen=True)
class JobInputs:
    """One job's variables: ``-var`` flags, var files (path, text) in order, ``NOMAD_VAR_*``."""

    flags: Mapping[str, str] = field(default_factory=dict)
    var_files: tuple[tuple[str, str], ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def submission(self, desired: DesiredJob) -> dict[str, Any]:
        sub: dict[str, Any] = {"Source": desired.source, "Format": desired.source_format}
        if desired.source_format != "hcl2":
            return sub  # JSON jobs take no variables
        if self.flags:
            sub["VariableFlags"] = dict(self.flags)
        if self.var_files:
            sub["Variables"] = "\n".join(_as_hcl(path, text) for path, text in self.var_files)
        return sub

    def merged_var_text(self) -> str | None:
        """Every input as one var-file text; later sources win, like the Nomad CLI."""
        values: dict[str, str] = {name: json.dumps(value) for name, value in self.env.items()}
        for path, text in self.var_files:
            values.update(_assignments(path, text))
        values.update({name: json.dumps(value) for name, value in self.flags.items()})
        if not values:
            return None
        return "\n".join(f"{name} = {expr}" for name, expr in values.items()) + "\n"


def job_inputs(root: str | Path, desired: DesiredJob, inputs: Any) -> JobInputs:
    """``JobInputs`` for ``desired`` from the ``VariableInputs`` given to the loader."""
    base = Path(root)
    files: list[tuple[str, str]] = []
    if desired.source_format == "hcl2":
        for name in companion_names(desired.path):
            candidate = base / name
            if candidate.is_file():
                files.append((name, candidate.read_text(encoding="utf-8")))
        for path in getattr(inputs, "files", ()):
            files.append((str(path), Path(path).read_text(encoding="utf-8")))
    flags = dict(item.split("=", 1) for item in getattr(inputs, "cli", ()) if "=" in item)
    env = {
        k.removeprefix("NOMAD_VAR_"): v
        for k, v in (getattr(inputs, "env", None) or {}).items()
        if k.startswith("NOMAD_VAR_")
    }
    return JobInputs(flags=flags, var_files=tuple(files), env=env)


def _as_hcl(path: str, text: str) -> str:
    if path.lower().endswith(".json"):
        data = json.loads(text)
        return "\n".join(f"{k} = {json.dumps(v)}" for k, v in data.items())
    return text


def _assignments(path: str, text: str) -> dict[str, str]:
    """Top-level ``name = expression`` statements of a var file, expression text kept."""
    if path.lower().endswith(".json"):
        return {k: json.dumps(v) for k, v in json.loads(text).items()}
    out: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "__end__ ="]:
        match = _TOP_LEVEL_ASSIGNMENT.match(line)
        if match:
            if current is not None:
                out[current] = "\n".join(lines).strip()
            current = match.group(1)
            lines = [line[match.end() :]]
        elif current is not None and not line.lstrip().startswith(("#", "//")):
            lines.append(line)
    return out
