"""Whether the connected Nomad release knows every block and argument a job uses.

Pure.  Files are read with the newest job specification modelled
(``jobspec.hcl_schema``); a job using a block its cluster's release does not
know (``disconnect`` on Nomad 1.7, ``node_pool`` on 1.5...) is refused here, as
that release's ``nomad job run`` would refuse the file, rather than sent: the
HTTP API would drop the field without a word, and the job would run without it.
"""

from __future__ import annotations

from reconciler.jobspec.later_fields import later_fields
from reconciler.jobspec.positions import locate
from reconciler.model import DesiredJob, Diagnostic

Version = tuple[int, int, int]
RULE = "nomad-version"


def release_refusals(desired: DesiredJob, version: Version | None) -> list[Diagnostic]:
    """The job's blocks and arguments ``version`` does not know (none when it is unknown)."""
    if version is None:
        return []
    return [
        Diagnostic(
            path=desired.path,
            message=found.message(version),
            line=locate(desired.source, found.where, source_format=desired.source_format)
            if desired.source
            else None,
            rule=RULE,
        )
        for found in later_fields(desired.job, version)
    ]
