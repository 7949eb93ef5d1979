"""Volume requests per Nomad release (nomad/structs/volumes.go ``VolumeRequest.Validate``
at the tags each case names; 1.0's group-level checks recorded in the corpus)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.jobspec.validate import error_leaves, validate_job
from reconciler.jobspec.validate.target import RULE_CHANGES
from reconciler.jobspec.validate.volumes import VARIANTS

Version = tuple[int, int, int]


def job_with(volume: dict[str, Any], *, job_type: str = "service", count: int = 1,
             canary: int = 0) -> dict[str, Any]:  # fmt: skip
    group: dict[str, Any] = {
        "Name": "g", "Count": count, "Volumes": {"data": volume},
        "Tasks": [{"Name": "t", "Driver": "raw_exec"}],
    }  # fmt: skip
    if canary:
        group["Update"] = {"Canary": canary}
    return {"ID": "j", "Name": "j", "Type": job_type, "Datacenters": ["dc1"], "TaskGroups": [group]}


def volume_leaves(job: dict[str, Any], version: Version) -> list[str]:
    errors = validate_job(job, version=version).errors
    leaves = [(" ".join(p) + " " + leaf).strip() for e in errors for p, leaf in error_leaves(e)]
    prefix = "Task group g validation failed: "
    return [leaf.removeprefix(prefix) for leaf in leaves if "olume" in leaf]


CSI = {"Type": "csi", "Source": "db", "AccessMode": "single-node-writer",
       "AttachmentMode": "file-system"}  # fmt: skip
HOST = {"Type": "host", "Source": "scratch"}
FAILED = "Task group volume validation for data failed:"


def csi(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CSI), **changes}


CASES = [
    # an unknown type: the HTTP API drops the volume before validating (recorded at 1.0.18)
    ("nfs-type", job_with({"Type": "nfs", "Source": "x"}), (1, 0, 18), []),
    ("nfs-type", job_with({"Type": "nfs", "Source": "x"}), (2, 0, 0), []),
    # source: a group-level text in 1.0, VolumeRequest.Validate's from 1.1.0
    ("no-source", job_with(csi(Source="")), (1, 0, 18), ["Volume data has an empty source"]),
    ("no-source", job_with(csi(Source="")), (1, 5, 0), [f"{FAILED} volume has an empty source"]),
    # CSI modes required from v1.1.1 (volumes.go v1.1.1, v1.2.0)
    ("csi-no-modes", job_with({"Type": "csi", "Source": "db"}), (1, 0, 18), []),
    ("csi-no-modes", job_with({"Type": "csi", "Source": "db"}), (1, 1, 0), []),
    ("csi-no-modes", job_with({"Type": "csi", "Source": "db"}), (1, 2, 0),
     [f"{FAILED} CSI volumes must have an attachment mode",
      f"{FAILED} CSI volumes must have an access mode"]),
    ("reader-not-read-only", job_with(csi(AccessMode="multi-node-reader-only")), (1, 1, 0),
     [f"{FAILED} multi-node-reader-only volumes must be read-only"]),
    # one writer unless per_alloc (volumes.go v1.1.13, v1.2.7, v1.3.0)
    ("shared-writer", job_with(csi(), count=2), (1, 2, 6), []),
    ("shared-writer", job_with(csi(), count=2), (1, 2, 7),
     [f"{FAILED} volume with single-node-writer access mode allows only one reader or writer"]),
    ("shared-writer", job_with(csi(PerAlloc=True), count=2), (1, 3, 0), []),
    ("per-alloc-canary", job_with(csi(PerAlloc=True), canary=1), (1, 1, 0),
     [f"{FAILED} volume cannot be per_alloc when canaries are in use"]),
    ("per-alloc-canary", job_with(csi(PerAlloc=True), canary=1), (2, 0, 0),
     [f"{FAILED} volume cannot be per_alloc when canaries are in use"]),
    # per_alloc on system jobs refused from v1.3.10 / v1.4.5 (backported), and in v1.5.0
    ("per-alloc-system", job_with(csi(PerAlloc=True), job_type="system"), (1, 4, 4), []),
    ("per-alloc-system", job_with(csi(PerAlloc=True), job_type="system"), (1, 4, 5),
     [f"{FAILED} volume cannot be per_alloc for system or sysbatch jobs"]),
    ("per-alloc-system", job_with(csi(PerAlloc=True), job_type="system"), (1, 3, 10),
     [f"{FAILED} volume cannot be per_alloc for system or sysbatch jobs"]),
    ("per-alloc-system", job_with(csi(PerAlloc=True), job_type="system"), (1, 5, 0),
     [f"{FAILED} volume cannot be per_alloc for system or sysbatch jobs"]),
    # host volumes
    ("host-per-alloc", job_with({**HOST, "PerAlloc": True}), (1, 3, 0),
     [f"{FAILED} host volumes do not support per_alloc"]),
    ("host-per-alloc", job_with({**HOST, "PerAlloc": True}), (1, 5, 0), []),
    ("host-access-mode", job_with({**HOST, "AccessMode": "single-node-writer"}), (1, 9, 0),
     [f"{FAILED} host volumes cannot have an access mode"]),
    ("host-access-mode", job_with({**HOST, "AccessMode": "single-node-writer"}), (1, 10, 0), []),
    ("host-bad-access-mode", job_with({**HOST, "AccessMode": "multi-node-multi-writer"}),
     (1, 10, 0), [f"{FAILED} host volumes cannot be mounted with %!s(MISSING) access mode"]),
    ("host-bad-access-mode", job_with({**HOST, "AccessMode": "multi-node-multi-writer"}),
     (2, 0, 0), [f"{FAILED} host volumes cannot be mounted with multi-node-multi-writer access mode"]),
    ("host-mount-options", job_with({**HOST, "MountOptions": {"FsType": "ext4"}}), (1, 1, 0), []),
    ("host-mount-options", job_with({**HOST, "MountOptions": {"FsType": "ext4"}}), (1, 2, 0),
     [f"{FAILED} host volumes cannot have mount options"]),
    ("sticky-per-alloc", job_with(csi(PerAlloc=True, Sticky=True)), (1, 9, 0), []),
    ("sticky-per-alloc", job_with(csi(PerAlloc=True, Sticky=True)), (1, 10, 0),
     [f"{FAILED} volume cannot be per_alloc and sticky at the same time"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("job", "version", "leaves"),
    [pytest.param(j, v, e, id=f"{name}@{'.'.join(map(str, v))}") for name, j, v, e in CASES],
)
def test_volume_requests_per_release(job: dict[str, Any], version: Version, leaves: list[str]) -> None:
    assert volume_leaves(job, version) == leaves


def test_every_variant_boundary_is_a_rule_change() -> None:
    """lint validates once per span of identical rules: each variant's first release is one."""
    assert {since for since, _ in VARIANTS[1:]} <= set(RULE_CHANGES)
