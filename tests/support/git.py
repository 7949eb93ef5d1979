"""Jobs repositories made and changed with the git CLI, as a user's checkout would be."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

# No user or system configuration (signing, hooks, templates) reaches the tests' repositories.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}  # fmt: skip


def run_git(root: Path, *args: str) -> str:
    """``git -C root ARGS``; its stdout, stripped.  Fails the test on a non-zero status."""
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV}, timeout=30,
    ).stdout.strip()  # fmt: skip


class GitCheckout:
    """A jobs repository (branch ``main``) made and changed with the git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return run_git(self.root, *args)

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def write_job(self, job: dict[str, Any], name: str | None = None) -> str:
        """Write an API job as ``{"Job": ...}`` JSON (``<ID>.json`` by default); its path."""
        path = name or f"{job['ID']}.json"
        self.write(path, json.dumps({"Job": job}, indent=2) + "\n")
        return path

    def commit(self, message: str = "change") -> str:
        """Commit everything (an empty commit when nothing changed); the new HEAD."""
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")
