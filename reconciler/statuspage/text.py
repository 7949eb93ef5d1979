"""How the status page writes times and links: ``12s``/``3m``/``2h`` ages, job URLs."""

from __future__ import annotations

from urllib.parse import quote

from reconciler.model import JobKey


def format_age(seconds: float | None) -> str:
    """``12s``, ``3m``, ``2h``, ``4d``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def job_url(key: JobKey) -> str:
    return f"/jobs/{quote(key[0], safe='')}/{quote(key[1], safe='')}"
