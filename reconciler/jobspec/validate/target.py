"""Which Nomad the validation imitates: its version, and the time zones its host knows.

Pure.  Validation rules that changed between releases read ``Target.at_least``;
``RULE_CHANGES`` lists every release where one of the modelled rules changed,
so a caller that does not know the server's version can validate at each of
them (``lint`` does, see ``reconciler.lint.runner``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

Version = tuple[int, int, int]

OLDEST: Version = (1, 0, 18)  # the oldest release the project supports

#: Releases where a modelled validation rule changed (each cites its tag where used).
RULE_CHANGES: tuple[Version, ...] = (
    # volume requests (volumes.VARIANTS: minor and backported patch releases)
    (1, 1, 0), (1, 1, 1), (1, 1, 13), (1, 2, 7), (1, 3, 10), (1, 4, 0), (1, 4, 5),
    # 1.1.0 also: the Connect admission hooks and gateway checks change (modelled for 1.0 only)
    (1, 1, 3),  # group services may repeat a name and port again (service_lists)
    (1, 2, 0),  # sysbatch jobs; volume requests as in v1.1.1
    (1, 3, 0),  # max_client_disconnect (later)
    (1, 4, 2),  # a group service's http/tcp check may name a task (service_lists)
    (1, 5, 0),  # datacenters default to ["*"]; priority checked by the admission hook; "block"
    (1, 7, 0),  # task actions (later)
    (1, 8, 0),  # disconnect, ui (later); group sub-validators' errors flattened (group)
    (1, 10, 0), (1, 11, 1),  # volume requests: host access modes, sticky
    # 1.10.0 also: max_client_disconnect and stop_after_client_disconnect ignored (later)
    (2, 0, 0),  # Connect sidecars: network modes widened ("cni/*"), no longer modelled
)


@dataclass(frozen=True)
class Target:
    """The server being imitated.  ``time_zones``: the IANA names its host knows
    (``None``: not known, so only the name's form is checked)."""

    version: Version = OLDEST
    time_zones: Collection[str] | None = None
    volume_rules: Version | None = None  # volume requests as another release checks them

    @property
    def volume_version(self) -> Version:
        return self.volume_rules if self.volume_rules is not None else self.version

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return self.version >= (major, minor, patch)


def representative_versions() -> tuple[Version, ...]:
    """One version per span of identical rules: the oldest, then each change."""
    return (OLDEST, *sorted(RULE_CHANGES))


def describe_versions(versions: Collection[Version]) -> str:
    """Which span(s) of releases a finding applies to, e.g. ``Nomad < 1.5.0``."""
    spans = representative_versions()
    chosen = sorted(versions)
    parts: list[str] = []
    index = 0
    while index < len(spans):
        if spans[index] not in chosen:
            index += 1
            continue
        start = index
        while index + 1 < len(spans) and spans[index + 1] in chosen:
            index += 1
        low = spans[start]
        high = spans[index + 1] if index + 1 < len(spans) else None
        text = _version_text
        if start == 0 and high is not None:
            parts.append(f"Nomad < {text(high)}")
        elif start == 0:
            parts.append("every Nomad")
        elif high is None:
            parts.append(f"Nomad >= {text(low)}")
        else:
            parts.append(f"Nomad >= {text(low)}, < {text(high)}")
        index += 1
    return "; ".join(parts)


def _version_text(version: Version) -> str:
    return ".".join(str(part) for part in version)
