"""Go's field order for the JSON of Nomad 1.0.18's structs, as the event stream emits it.

Go encodes struct fields in declaration order, and the event stream is
compared byte for byte; HTTP answers are key-sorted like the recordings.
The orders below are those of the recorded stream (Job, TaskGroup, Task,
Evaluation, Allocation, Deployment and their nested structs).  A dict whose
keys mostly belong to one of them is written in that order (unknown keys last).
"""

from __future__ import annotations

from typing import Any

STRUCT_ORDERS: tuple[tuple[str, ...], ...] = (
    ("ID", "Namespace", "EvalID", "Name", "NodeID", "NodeName", "JobID", "Job", "TaskGroup", "Resources", "SharedResources", "TaskResources", "AllocatedResources", "Metrics", "DesiredStatus", "DesiredDescription", "DesiredTransition", "ClientStatus", "ClientDescription", "TaskStates", "AllocStates", "PreviousAllocation", "NextAllocation", "DeploymentID", "DeploymentStatus", "RescheduleTracker", "NetworkStatus", "FollowupEvalID", "PreemptedAllocations", "PreemptedByAllocation", "CreateIndex", "ModifyIndex", "AllocModifyIndex", "CreateTime", "ModifyTime"),
    ("Stop", "Region", "Namespace", "ID", "ParentID", "Name", "Type", "Priority", "AllAtOnce", "Datacenters", "Constraints", "Affinities", "Spreads", "TaskGroups", "Update", "Multiregion", "Periodic", "ParameterizedJob", "Dispatched", "Payload", "Meta", "ConsulToken", "VaultToken", "VaultNamespace", "NomadTokenID", "Status", "StatusDescription", "Stable", "Version", "SubmitTime", "CreateIndex", "ModifyIndex", "JobModifyIndex"),
    ("ID", "Namespace", "Priority", "Type", "TriggeredBy", "JobID", "JobModifyIndex", "NodeID", "NodeModifyIndex", "DeploymentID", "Status", "StatusDescription", "Wait", "WaitUntil", "NextEval", "PreviousEval", "BlockedEval", "FailedTGAllocs", "ClassEligibility", "QuotaLimitReached", "EscapedComputedClass", "AnnotatePlan", "QueuedAllocations", "LeaderACL", "SnapshotIndex", "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime"),
    ("Name", "Driver", "User", "Config", "Env", "Services", "Vault", "Templates", "Constraints", "Affinities", "Resources", "RestartPolicy", "DispatchPayload", "Lifecycle", "Meta", "KillTimeout", "LogConfig", "Artifacts", "Leader", "ShutdownDelay", "VolumeMounts", "ScalingPolicies", "KillSignal", "Kind", "CSIPluginConfig"),
    ("Type", "Time", "Message", "DisplayMessage", "Details", "FailsTask", "RestartReason", "SetupError", "DriverError", "ExitCode", "Signal", "KillTimeout", "KillError", "KillReason", "StartDelay", "DownloadError", "ValidationError", "DiskLimit", "FailedSibling", "VaultError", "TaskSignalReason", "TaskSignal", "DriverMessage", "GenericSource"),
    ("Name", "Count", "Update", "Migrate", "Constraints", "Scaling", "RestartPolicy", "Tasks", "EphemeralDisk", "Meta", "ReschedulePolicy", "Affinities", "Spreads", "Networks", "Services", "Volumes", "ShutdownDelay", "StopAfterClientDisconnect"),
    ("ID", "Namespace", "JobID", "JobVersion", "JobModifyIndex", "JobSpecModifyIndex", "JobCreateIndex", "IsMultiregion", "TaskGroups", "Status", "StatusDescription", "CreateIndex", "ModifyIndex"),
    ("NodesEvaluated", "NodesFiltered", "NodesAvailable", "ClassFiltered", "ConstraintFiltered", "NodesExhausted", "ClassExhausted", "DimensionExhausted", "QuotaExhausted", "Scores", "ScoreMetaData", "AllocationTime", "CoalescedFailures"),
    ("AutoRevert", "AutoPromote", "ProgressDeadline", "RequireProgressBy", "Promoted", "PlacedCanaries", "DesiredCanaries", "DesiredTotal", "PlacedAllocs", "HealthyAllocs", "UnhealthyAllocs"),
    ("Stagger", "MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline", "ProgressDeadline", "AutoRevert", "AutoPromote", "Canary"),
    ("State", "Failed", "Restarts", "LastRestart", "StartedAt", "FinishedAt", "Events"),
    ("Attempts", "Interval", "Delay", "DelayFunction", "MaxDelay", "Unlimited"),
    ("CPU", "MemoryMB", "DiskMB", "IOPS", "Networks", "Devices"),
    ("Attempts", "Interval", "Delay", "Mode"),
    ("Cpu", "Memory", "Networks", "Devices"),
    ("Healthy", "Timestamp", "Canary", "ModifyIndex"),
    ("MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline"),
    ("InterfaceName", "Address", "DNS"),
    ("Migrate", "Reschedule", "ForceReschedule"),
    ("Networks", "DiskMB", "Ports"),
    ("NodeID", "Scores", "NormScore"),
    ("Sticky", "SizeMB", "Migrate"),
    ("Tasks", "TaskLifecycles", "Shared"),
)
_INDEX = [(frozenset(order), {key: i for i, key in enumerate(order)}) for order in STRUCT_ORDERS]


def go_ordered(value: Any) -> Any:
    """``value`` with every struct-like dict in Go's field order (recursively)."""
    if isinstance(value, list):
        return [go_ordered(item) for item in value]
    if not isinstance(value, dict):
        return value
    keys = set(value)
    best: tuple[int, int, dict[str, int]] | None = None  # (overlap, -size, rank)
    for fields, rank in _INDEX:
        overlap = len(keys & fields)
        if overlap >= max(3, (len(keys) + 1) // 2) and (best is None or (overlap, -len(fields)) > best[:2]):
            best = (overlap, -len(fields), rank)
    items = list(value.items())
    if best is not None:
        rank = best[2]
        # Known fields in Go's order; fields Nomad's struct lacks (fake extras) after them.
        items.sort(key=lambda kv: (kv[0] not in rank, rank.get(kv[0], 0)))
    return {key: go_ordered(item) for key, item in items}
