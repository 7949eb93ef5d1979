"""The HCL2 converter against the recorded Nomad 1.0.18 jobspec corpus.

Every valid corpus file must convert to exactly the job ``nomad job run
-output`` printed (a key whose value is null counts as absent; Config key
order is irrelevant because maps compare unordered).  Every invalid file that
Nomad rejected while parsing must fail with a ``JobSpecError`` at the same
line and column, with the same diagnostic summary.

Deliberate deviations: none for the valid files.  For errors, only Nomad's
*first* diagnostic is reproduced; the derived second line Nomad sometimes
adds ("Unsuitable value: value must be known") is not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.commands.render import format_api_json
from reconciler.errors import JobSpecError
from reconciler.jobspec.hcl_convert import convert_hcl
from tests.support.jobs import without_nulls

CORPUS = Path(__file__).parent.parent / "golden" / "jobspec"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
VALID = [entry["file"] for entry in MANIFEST["valid"]]
PARSE_ERRORS = [entry["file"] for entry in MANIFEST["invalid"] if entry["fails_at"] == "parse"]
VALIDATE_ERRORS = [entry["file"] for entry in MANIFEST["invalid"] if entry["fails_at"] == "validate"]




def convert_corpus_file(name: str) -> dict[str, Any]:
    return convert_hcl((CORPUS / name).read_text(), path=name, base_dir=str(CORPUS))


def test_corpus_is_complete() -> None:
    assert len(VALID) == 27
    assert len(PARSE_ERRORS) + len(VALIDATE_ERRORS) == 16


@pytest.mark.parametrize("name", VALID)
def test_valid_file_converts_to_recorded_job(name: str) -> None:
    expected = json.loads((CORPUS / name.replace(".nomad", ".output.json")).read_text())["Job"]
    assert without_nulls(convert_corpus_file(name)) == without_nulls(expected)


@pytest.mark.parametrize("name", VALID)
def test_rendered_text_is_byte_identical_to_nomad_cli(name: str) -> None:
    """Stronger than the dict comparison: same keys, nulls, order, indentation and escaping."""
    recorded = (CORPUS / name.replace(".nomad", ".output.json")).read_text()
    assert format_api_json(convert_corpus_file(name)) + "\n" == recorded


def _first_diagnostic(name: str, stderr: str) -> tuple[int, int, str]:
    match = re.search(re.escape(name) + r":(\d+),(\d+)-\d+: ([^;]+); ", stderr)
    assert match, stderr
    return int(match.group(1)), int(match.group(2)), match.group(3)


@pytest.mark.parametrize("name", PARSE_ERRORS)
def test_parse_error_matches_nomad_diagnostic(name: str) -> None:
    recorded = json.loads((CORPUS / name.replace(".nomad", ".error.json")).read_text())
    stderr = recorded["cli_run_output"]["stderr"]
    line, column, summary = _first_diagnostic(name, stderr)
    with pytest.raises(JobSpecError) as info:
        convert_corpus_file(name)
    err = info.value
    assert (err.path, err.line, err.column) == (name, line, column)
    assert err.reason.startswith(summary + ";")
    # The detail after the summary is Nomad's too.
    detail = stderr.split(f"{summary}; ", 1)[1].splitlines()[0]
    assert detail in err.reason


@pytest.mark.parametrize("name", VALIDATE_ERRORS)
def test_validate_level_error_files_still_convert(name: str) -> None:
    """These parse in Nomad (``-output`` printed JSON); only the server rejects them."""
    recorded = json.loads((CORPUS / name.replace(".nomad", ".error.json")).read_text())
    printed = json.loads(recorded["cli_run_output"]["stdout"])["Job"]
    assert without_nulls(convert_corpus_file(name)) == without_nulls(printed)
