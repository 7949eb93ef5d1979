"""Reading the analysis template files of a jobs directory (the file edge of analysis).

Templates are the ``*.hcl`` files directly under ``<jobs dir>/.reconciler/analysis/``
(``docs/analysis.md``).  The job loader never sees them: it skips hidden
directories.  This module only reads: it returns each file's text by its path
relative to the jobs directory, and a ``Diagnostic`` for a file it cannot
read (too large, not UTF-8, unreadable).  Parsing is
``core.analysis_templates.build_catalog``'s job.  Symlinks leading out of the
jobs directory are not followed, as for job files.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.model import Diagnostic

ANALYSIS_DIR = ".reconciler/analysis"
SUFFIX = ".hcl"


def read_analysis_files(
    root: str | os.PathLike[str], *, max_file_size: int = DEFAULT_MAX_FILE_SIZE
) -> tuple[dict[str, str], list[Diagnostic]]:
    """(path relative to ``root`` → text, read errors) of every template file."""
    base = Path(root)
    directory = base / ANALYSIS_DIR
    texts: dict[str, str] = {}
    errors: list[Diagnostic] = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return texts, errors
    except OSError as exc:
        return texts, [Diagnostic(path=ANALYSIS_DIR, message=f"cannot list: {exc.strerror}", rule="analysis")]
    real_root = base.resolve()
    for name in names:
        if not name.endswith(SUFFIX) or name.startswith("."):
            continue
        rel = f"{ANALYSIS_DIR}/{name}"
        path = directory / name
        try:
            if not path.resolve().is_relative_to(real_root):
                errors.append(Diagnostic(path=rel, message="symlink leads outside the jobs directory; not read", rule="analysis"))
                continue
            if not path.is_file():
                continue
            with open(path, "rb") as handle:
                data = handle.read(max_file_size + 1)
            if len(data) > max_file_size:
                errors.append(Diagnostic(
                    path=rel, rule="analysis",
                    message=f"file is larger than --max-file-size ({max_file_size} bytes); not read",
                ))  # fmt: skip
                continue
            texts[rel] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(Diagnostic(path=rel, message=f"not UTF-8 text ({exc.reason} at byte {exc.start})", rule="analysis"))
        except OSError as exc:
            errors.append(Diagnostic(path=rel, message=f"cannot read: {exc.strerror}", rule="analysis"))
    return texts, errors
