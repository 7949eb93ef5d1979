"""``render FILE``: print the Nomad API JSON a job file turns into.

The output is what ``nomad job run -output FILE`` prints: ``{"Job": {...}}``
with 4-space indentation and Go's JSON escaping, so the two can be diffed.
HCL2 files take ``--var``/``--var-file`` and ``NOMAD_VAR_*`` like the Nomad
CLI; JSON job files are read as they are (variables do not apply to them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from reconciler.errors import ConfigError, JobSpecError

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def format_api_json(job: dict[str, Any]) -> str:
    """``{"Job": job}`` as Nomad's CLI prints it (Go's encoding/json, 4-space indent).

    Go escapes ``<``, ``>`` and ``&`` even inside strings and keeps other
    non-ASCII characters as they are; those characters can only occur inside
    JSON strings, so replacing them in the encoded text is exact.
    """
    text = json.dumps({"Job": job}, indent=4, ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def render_file(
    path: str, *, variables: tuple[str, ...] = (), var_files: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The API job for the file at ``path`` (HCL2, or JSON when it ends in ``.json``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "file is not valid UTF-8"
        raise JobSpecError(f"Failed to read job file; {reason}.", path=path) from exc
    if path.endswith(".json"):
        if variables or var_files:
            raise ConfigError(f"{path}: --var and --var-file apply only to HCL2 job files, not to JSON jobs")
        from reconciler.jobspec.jsonspec import parse_json_job

        return parse_json_job(text, path=path)
    from reconciler.jobspec.hcl_convert import convert_hcl
    from reconciler.jobspec.variables import VariableInputs

    inputs = VariableInputs(cli=variables, files=var_files, env=dict(env or {}))
    return convert_hcl(text, path=path, inputs=inputs, allow_fs=True, base_dir=os.path.dirname(path) or ".")


def _run(args: argparse.Namespace) -> int:
    env = {k: v for k, v in os.environ.items() if k.startswith("NOMAD_VAR_")}
    job = render_file(args.file, variables=tuple(args.var), var_files=tuple(args.var_file), env=env)
    sys.stdout.write(format_api_json(job) + "\n")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the Nomad API JSON a job file turns into",
        description=(
            "Convert one job file (HCL2 .nomad/.hcl, or a JSON job) into the Nomad API job JSON, "
            'exactly as `nomad job run -output FILE` prints it: {"Job": {...}}. '
            "Nothing is sent to Nomad. Variables come from --var, --var-file and NOMAD_VAR_* "
            "environment variables (precedence: --var > --var-file > environment > default)."
        ),
        epilog="Errors are printed as 'Error: FILE:LINE,COL: reason' and exit with status 1.",
    )
    parser.add_argument("file", metavar="FILE", help="the job file to render")
    parser.add_argument(
        "--var", action="append", default=[], metavar="KEY=VALUE",
        help="set an input variable (repeatable); lists and maps use HCL syntax, e.g. 'regions=[\"dc1\"]'",
    )
    parser.add_argument(
        "--var-file", action="append", default=[], metavar="FILE",
        help="read input variables from an HCL or JSON (.json) file (repeatable, later files win)",
    )
    parser.set_defaults(func=_run)
