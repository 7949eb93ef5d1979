"""Records validation cases (``validate/*.json``) from a real Nomad agent.

Not a test: run it by hand against a ``nomad agent -dev`` with the ``nomad`` binary
of the same release, e.g.

    nomad agent -dev -bind 127.0.0.1 -config ports.hcl &      # http on 24646
    python tests/golden/record_validate.py http://127.0.0.1:24646 cases/*.nomad \
        > tests/golden/validate/services-connect.json

For each HCL file (its name, without ``.nomad``, names the case) it keeps the HCL, the
job ``nomad job run -output`` prints, the answer of ``PUT /v1/validate/job`` with it
(``validate_response``, its JSON body; or ``validate_refused``, the text of a
refused request, HTTP 500) and what ``nomad job validate`` prints (``cli_validate``:
exit code, stdout, stderr; for a refused request also ``cli_run``, what
``nomad job run -detach`` prints, since register refuses it the same way).  Run in the files' directory, so that file names in
the CLI's output are the bare names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx


def record(address: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "NOMAD_ADDR": address}
    output = subprocess.run(
        ["nomad", "job", "run", "-output", path.name], cwd=path.parent, env=env,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    job = json.loads(output.stdout)
    case: dict[str, Any] = {"name": path.stem, "hcl": path.read_text(), "job": job}
    response = httpx.put(f"{address}/v1/validate/job", json=job, timeout=30)
    if response.status_code == 200:
        case["validate_response"] = response.json()
    else:
        case["validate_refused"] = {"status": response.status_code, "body": response.text}
    case["cli_validate"] = _cli(["nomad", "job", "validate", path.name], path.parent, env)
    if "validate_refused" in case:
        # `job validate` falls back to a local check when the agent refuses; register does not
        case["cli_run"] = _cli(["nomad", "job", "run", "-detach", path.name], path.parent, env)
    return case


def _cli(argv: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    cli = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    return {"argv": argv, "exit_code": cli.returncode, "stdout": cli.stdout, "stderr": cli.stderr}


def main() -> None:
    address, *files = sys.argv[1:]
    version = httpx.get(f"{address}/v1/agent/self", timeout=30).json()["config"]["Version"]
    document = {
        "nomad_version": version["Version"],
        "recorded_with": (
            "for each case: nomad job run -output X.nomad (the job), PUT /v1/validate/job with "
            "that body (validate_response, or validate_refused: status and text of a refused "
            "request) and nomad job validate X.nomad (cli_validate, NOMAD_ADDR set to the "
            f"agent), against nomad agent -dev v{version['Version']}; by tests/golden/record_validate.py"
        ),
        "cases": [record(address, Path(f)) for f in sorted(files)],
    }
    json.dump(document, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
