"""Which Nomad API features a server version has: pure functions of the version.

The client supports Nomad 1.0 through 2.x.  Where the API differs between
versions, the client asks ``features_for(version)`` instead of sprinkling
version comparisons around.  Facts are from Nomad's CHANGELOG.md and
CHANGELOG-unsupported.md (v2.0.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Version = tuple[int, int, int]

OLDEST_SUPPORTED: Version = (1, 0, 0)

_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> Version:
    """``"1.0.18"``, ``"v1.6.0-beta.1"``, ``"1.7.2+ent"`` → ``(major, minor, patch)``."""
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not a Nomad version: {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def version_from_agent_self(body: Any) -> Version:
    """The server version in a ``GET /v1/agent/self`` body.

    ``config.Version.Version`` exists in every supported release; the member
    tag ``build`` (e.g. ``"1.0.18"``) is the fallback.
    """
    if isinstance(body, dict):
        config = body.get("config")
        if isinstance(config, dict):
            info = config.get("Version")
            if isinstance(info, dict) and isinstance(info.get("Version"), str):
                return parse_version(info["Version"])
            if isinstance(info, str):
                return parse_version(info)
        member = body.get("member")
        if isinstance(member, dict):
            tags = member.get("Tags")
            if isinstance(tags, dict) and isinstance(tags.get("build"), str):
                return parse_version(tags["build"])
    raise ValueError("agent/self response carries no Nomad version")


@dataclass(frozen=True)
class Features:
    """API behaviours that depend on the server version."""

    version: Version
    # GET /v1/jobs?meta=true includes each job's Meta (1.4.3).
    list_meta: bool
    # Register accepts {"Submission": {...}} and stores the job source (1.6.0).
    register_submission: bool
    # /v1/jobs/parse accepts "Variables" (var-file text) (1.6.0).
    parse_variables: bool
    # "Authorization: Bearer <token>" is accepted besides X-Nomad-Token (1.3.2).
    bearer_auth: bool


def features_for(version: Version) -> Features:
    return Features(
        version=version,
        list_meta=version >= (1, 4, 3),
        register_submission=version >= (1, 6, 0),
        parse_variables=version >= (1, 6, 0),
        bearer_auth=version >= (1, 3, 2),
    )


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)
