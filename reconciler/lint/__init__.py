"""Offline checks of a jobs directory: Nomad's own validation plus lint rules.

``lint_snapshot(snapshot)`` (``runner``) is the entry point; ``rules`` holds the
named rules, ``drivers`` the task driver config schemas.  Pure: no files, no
Nomad; the ``lint`` command (``reconciler.commands.lint``) is the I/O edge.
"""

from reconciler.lint.rules import RULES, Finding, Rule
from reconciler.lint.runner import lint_job, lint_snapshot, render_json, render_text

__all__ = ["RULES", "Finding", "Rule", "lint_job", "lint_snapshot", "render_json", "render_text"]
