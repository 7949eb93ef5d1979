"""``render FILE``: print the Nomad API JSON a job file turns into.

The output is what ``nomad job run -output FILE`` prints: ``{"Job": {...}}``
with 4-space indentation and Go's JSON escaping, so the two can be diffed.
HCL2 files take ``--var``/``--var-file`` and ``NOMAD_VAR_*`` like the Nomad
CLI; JSON job files are read as they are (variables do not apply to them).
The job specification is the newest the converter models; ``--nomad-version``
reads that release's instead, refusing what its ``nomad job run`` would not know.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from decimal import Decimal
from typing import Any

from reconciler.errors import ConfigError, JobSpecError
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.jobspec.loader import parse_size

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def format_api_json(job: dict[str, Any]) -> str:
    """``{"Job": job}`` as Nomad's CLI prints it (Go's encoding/json, 4-space indent).

    Go escapes ``<``, ``>`` and ``&`` inside strings, keeps other non-ASCII
    characters as they are, and prints floats in fixed notation between 1e-6
    and 1e21 (``10000000000000000``, ``0.00001``), which Python's json does not.
    """
    out: list[str] = []
    _encode({"Job": job}, 0, out)
    return "".join(out)


def _encode(value: Any, depth: int, out: list[str]) -> None:
    pad = "    " * (depth + 1)
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + "\n" + pad + _go_string(str(key)) + ": ")
            _encode(item, depth + 1, out)
        out.append("\n" + "    " * depth + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + "\n" + pad)
            _encode(item, depth + 1, out)
        out.append("\n" + "    " * depth + "]")
    elif isinstance(value, str):
        out.append(_go_string(value))
    elif isinstance(value, float):
        out.append(_go_float(value))
    else:  # None, bool, int
        out.append(json.dumps(value))


def _go_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES.items():
        encoded = encoded.replace(raw, escaped)
    return encoded


def _go_float(number: float) -> str:
    """strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json chooses it."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"unsupported float value {number!r}")
    shortest = repr(number)  # Python and Go agree on the shortest round-tripping digits
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = shortest.partition("e")  # repr uses exponents in this range
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    text = format(Decimal(shortest), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def render_file(
    path: str,
    *,
    variables: tuple[str, ...] = (),
    var_files: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    nomad_version: tuple[int, int, int] | None = None,
) -> dict[str, Any]:
    """The API job for the file at ``path`` (HCL2, or JSON when it ends in ``.json``).

    The file, and each file it reads with ``file()``, may be at most ``max_file_size`` bytes.
    ``nomad_version``: the release whose job specification is read (``None``: the newest).
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_file_size + 1)
            if len(data) > max_file_size:
                size = max(os.fstat(fh.fileno()).st_size, len(data))
                raise JobSpecError(
                    f"The file is {size} bytes, more than the {max_file_size}-byte limit for a "
                    "job file (--max-file-size); not parsed.", path=path,
                )  # fmt: skip
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "file is not valid UTF-8"
        raise JobSpecError(f"Failed to read job file; {reason}.", path=path) from exc
    if path.endswith(".json"):
        if variables or var_files:
            raise ConfigError(f"{path}: --var and --var-file apply only to HCL2 job files, not to JSON jobs")
        from reconciler.jobspec.jsonspec import parse_json_job
        from reconciler.jobspec.later_fields import later_messages

        job = parse_json_job(text, path=path)
        refused = later_messages(job, nomad_version) if nomad_version is not None else []
        if refused:
            raise JobSpecError("; ".join(refused), path=path)
        return job
    from reconciler.jobspec.hcl_convert import convert_hcl
    from reconciler.jobspec.variables import VariableInputs

    inputs = VariableInputs(cli=variables, files=var_files, env=dict(env or {}))
    return convert_hcl(
        text, path=path, inputs=inputs, allow_fs=True, base_dir=os.path.dirname(path) or ".",
        read_limit=max_file_size, nomad_version=nomad_version,
    )  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    env = {k: v for k, v in os.environ.items() if k.startswith("NOMAD_VAR_")}
    job = render_file(
        args.file, variables=tuple(args.var), var_files=tuple(args.var_file), env=env,
        max_file_size=parse_size(args.max_file_size), nomad_version=_version(args.nomad_version),
    )  # fmt: skip
    sys.stdout.write(format_api_json(job) + "\n")
    return 0


def _version(text: str | None) -> tuple[int, int, int] | None:
    from reconciler.nomad.versions import parse_version

    if text is None:
        return None
    try:
        return parse_version(text)
    except ValueError as exc:
        raise ConfigError(f"--nomad-version {text!r}: {exc}") from None


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
        "--var", "-var", action="append", default=[], metavar="KEY=VALUE",
        help="set an input variable (repeatable); lists and maps use HCL syntax, e.g. 'regions=[\"dc1\"]'",
    )
    parser.add_argument(
        "--var-file", "-var-file", action="append", default=[], metavar="FILE",
        help="read input variables from an HCL or JSON (.json) file (repeatable, later files win)",
    )
    parser.add_argument(
        "--max-file-size", default="256KiB", metavar="SIZE",
        help="largest job file, and largest file it reads with file(), in bytes or with a "
        "unit (default 256KiB; e.g. 64KiB, 1MiB); a larger one is an error, never parsed",
    )
    parser.add_argument(
        "--nomad-version", metavar="X.Y.Z",
        help="read the job specification of this Nomad release: blocks and arguments it does "
        "not know (e.g. disconnect before 1.8.0) are refused as its `nomad job run` refuses "
        "them (default: the newest the converter models)",
    )
    parser.set_defaults(func=_run)
