"""The ``multiregion`` block, as the Community Edition judges it.

Pure.  ``Job.IsMultiregion`` (a block with at least one region) exempts a job
from the datacenters check and its groups from two count checks; the block
itself is refused by ``Multiregion.Validate`` of every Community Edition release
(nomad/structs/structs_oss.go v1.0.18 to v1.x, structs_ce.go v2.0.0).  The
Enterprise checks (strategy, unique region names, their datacenters) are not
in Nomad's public source, so they are not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNLICENSED = "Multiregion jobs are unlicensed."


def multiregion_regions(job: Mapping[str, Any]) -> list[Any]:
    """Job.IsMultiregion: a multiregion block with at least one region."""
    return list((job.get("Multiregion") or {}).get("Regions") or [])


def multiregion_errors(job: Mapping[str, Any]) -> list[str]:
    return [UNLICENSED] if multiregion_regions(job) else []
