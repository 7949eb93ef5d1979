"""The fields of Nomad 1.0.18's ``api.Job`` and its nested structs, with their JSON types.

Pure data for ``jsonspec``: which keys a JSON job specification may hold, in
Go declaration order, and how each value decodes (Go ``encoding/json`` into
the ``api`` package's structs).
"""

from __future__ import annotations

from typing import Any

# Field types, Nomad 1.0.18 ``api`` package, fields in Go declaration order.
#   s i b d      string, integer, bool, duration (int ns) — Go value fields (zero when unset)
#   s? i? b? d?  the same as Go pointers (null when unset)
#   [s]          list of strings; {s} map of strings; {[s]} map of string lists
#   {*} / *      opaque map / any JSON value, kept as written
#   bytes        base64 string ([]byte)
#   Name? [Name] {Name}   pointer to / list of / map of struct Name
#   Name~        pointer with `json:",omitempty"`: the key is absent unless set; also every
#                field Nomad added after 1.0 to a 1.0 struct (as the HCL converter prints them)
#
# Later fields, each from the ``api`` package at the tag named: Job.NodePool (jobs.go
# v1.6.0), Job.UI (jobs.go v1.8.0), TaskGroup.MaxClientDisconnect (tasks.go v1.3.0),
# TaskGroup.PreventRescheduleOnLost (tasks.go v1.7.2), TaskGroup.Disconnect (tasks.go
# v1.8.0), Service.Provider (services.go v1.3.0), Task.Identity (tasks.go v1.5.0),
# Task.Identities and Task.Actions (tasks.go v1.7.0), TaskGroup.Consul (tasks.go v1.1.0),
# Task.Consul (tasks.go v1.7.0; consul.go), RestartPolicy.RenderTemplates (v1.6.2), the
# Vault fields (tasks.go v1.6.0 to v1.7.3) and the Template fields (tasks.go v1.3.0 to v1.10.2).
#: struct name → ((field, type), ...); the type notation is above.
STRUCTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Job": (
        ("Region", "s?"), ("Namespace", "s?"), ("ID", "s?"), ("Name", "s?"), ("Type", "s?"),
        ("Priority", "i?"), ("AllAtOnce", "b?"), ("Datacenters", "[s]"), ("NodePool", "s~"),
        ("Constraints", "[Constraint]"), ("Affinities", "[Affinity]"),
        ("TaskGroups", "[TaskGroup]"), ("Update", "UpdateStrategy?"),
        ("Multiregion", "Multiregion?"), ("Spreads", "[Spread]"),
        ("Periodic", "PeriodicConfig?"), ("ParameterizedJob", "ParameterizedJobConfig?"),
        ("Reschedule", "ReschedulePolicy?"), ("Migrate", "MigrateStrategy?"),
        ("Meta", "{s}"), ("ConsulToken", "s?"), ("VaultToken", "s?"), ("UI", "JobUIConfig~"), ("Stop", "b?"),
        ("ParentID", "s?"), ("Dispatched", "b"), ("Payload", "bytes"),
        ("VaultNamespace", "s?"), ("NomadTokenID", "s?"), ("Status", "s?"),
        ("StatusDescription", "s?"), ("Stable", "b?"), ("Version", "i?"),
        ("SubmitTime", "i?"), ("CreateIndex", "i?"), ("ModifyIndex", "i?"),
        ("JobModifyIndex", "i?"),
    ),
    "Constraint": (("LTarget", "s"), ("RTarget", "s"), ("Operand", "s")),
    "Affinity": (("LTarget", "s"), ("RTarget", "s"), ("Operand", "s"), ("Weight", "i?")),
    "Spread": (("Attribute", "s"), ("Weight", "i?"), ("SpreadTarget", "[SpreadTarget]")),
    "SpreadTarget": (("Value", "s"), ("Percent", "i")),
    "UpdateStrategy": (
        ("Stagger", "d?"), ("MaxParallel", "i?"), ("HealthCheck", "s?"),
        ("MinHealthyTime", "d?"), ("HealthyDeadline", "d?"), ("ProgressDeadline", "d?"),
        ("Canary", "i?"), ("AutoRevert", "b?"), ("AutoPromote", "b?"),
    ),
    "Multiregion": (("Strategy", "MultiregionStrategy?"), ("Regions", "[MultiregionRegion]")),
    "MultiregionStrategy": (("MaxParallel", "i?"), ("OnFailure", "s?")),
    "MultiregionRegion": (
        ("Name", "s"), ("Count", "i?"), ("Datacenters", "[s]"), ("Meta", "{s}"),
    ),
    "PeriodicConfig": (
        ("Enabled", "b?"), ("Spec", "s?"), ("SpecType", "s?"), ("ProhibitOverlap", "b?"),
        ("TimeZone", "s?"),
    ),
    "ParameterizedJobConfig": (
        ("Payload", "s"), ("MetaRequired", "[s]"), ("MetaOptional", "[s]"),
    ),
    "ReschedulePolicy": (
        ("Attempts", "i?"), ("Interval", "d?"), ("Delay", "d?"), ("DelayFunction", "s?"),
        ("MaxDelay", "d?"), ("Unlimited", "b?"),
    ),
    "MigrateStrategy": (
        ("MaxParallel", "i?"), ("HealthCheck", "s?"), ("MinHealthyTime", "d?"),
        ("HealthyDeadline", "d?"),
    ),
    "TaskGroup": (
        ("Name", "s?"), ("Count", "i?"), ("Constraints", "[Constraint]"),
        ("Affinities", "[Affinity]"), ("Tasks", "[Task]"), ("Spreads", "[Spread]"),
        ("Volumes", "{VolumeRequest}"), ("RestartPolicy", "RestartPolicy?"),
        ("Disconnect", "DisconnectStrategy~"), ("ReschedulePolicy", "ReschedulePolicy?"), ("EphemeralDisk", "EphemeralDisk?"),
        ("Update", "UpdateStrategy?"), ("Migrate", "MigrateStrategy?"),
        ("Networks", "[NetworkResource]"), ("Meta", "{s}"), ("Services", "[Service]"),
        ("ShutdownDelay", "d?"), ("StopAfterClientDisconnect", "d?"),
        ("MaxClientDisconnect", "d~"), ("Scaling", "ScalingPolicy?"), ("Consul", "Consul~"),
        ("PreventRescheduleOnLost", "b~"),
    ),
    "DisconnectStrategy": (
        ("LostAfter", "d?"), ("StopOnClientAfter", "d?"), ("Replace", "b?"), ("Reconcile", "s?"),
    ),
    "JobUIConfig": (("Description", "s"), ("Links", "[JobUILink]")),
    "JobUILink": (("Label", "s"), ("URL", "s")),
    "WorkloadIdentity": (
        ("Name", "s"), ("Audience", "[s]"), ("ChangeMode", "s"), ("ChangeSignal", "s"),
        ("Env", "b"), ("File", "b"), ("Filepath", "s"), ("ServiceName", "s"), ("TTL", "d"),
    ),
    "Action": (("Name", "s"), ("Command", "s"), ("Args", "[s]")),
    "VolumeRequest": (
        ("Name", "s"), ("Type", "s"), ("Source", "s"), ("ReadOnly", "b"),
        ("MountOptions", "CSIMountOptions?"),
    ),
    "CSIMountOptions": (("FSType", "s"), ("MountFlags", "[s]")),
    "RestartPolicy": (
        ("Interval", "d?"), ("Attempts", "i?"), ("Delay", "d?"), ("Mode", "s?"),
        ("RenderTemplates", "b~"),
    ),
    "Consul": (("Namespace", "s"), ("Cluster", "s"), ("Partition", "s")),
    "WaitConfig": (("Min", "d?"), ("Max", "d?")),
    "ChangeScript": (("Command", "s?"), ("Args", "[s]"), ("Timeout", "d?"), ("FailOnError", "b?")),
    "EphemeralDisk": (("Sticky", "b?"), ("Migrate", "b?"), ("SizeMB", "i?")),
    "NetworkResource": (
        ("Mode", "s"), ("Device", "s"), ("CIDR", "s"), ("IP", "s"), ("DNS", "DNSConfig?"),
        ("ReservedPorts", "[Port]"), ("DynamicPorts", "[Port]"), ("MBits", "i?"),
    ),
    "DNSConfig": (("Servers", "[s]"), ("Searches", "[s]"), ("Options", "[s]")),
    "Port": (("Label", "s"), ("Value", "i"), ("To", "i"), ("HostNetwork", "s")),
    "Service": (
        ("Id", "s"), ("Name", "s"), ("Tags", "[s]"), ("CanaryTags", "[s]"),
        ("EnableTagOverride", "b"), ("PortLabel", "s"), ("AddressMode", "s"),
        ("Checks", "[ServiceCheck]"), ("CheckRestart", "CheckRestart?"), ("Connect", "*"),
        ("Meta", "{s}"), ("CanaryMeta", "{s}"), ("TaskName", "s"), ("Provider", "s~"),
    ),
    "ServiceCheck": (
        ("Id", "s"), ("Name", "s"), ("Type", "s"), ("Command", "s"), ("Args", "[s]"),
        ("Path", "s"), ("Protocol", "s"), ("PortLabel", "s"), ("Expose", "b"),
        ("AddressMode", "s"), ("Interval", "d"), ("Timeout", "d"), ("InitialStatus", "s"),
        ("TLSSkipVerify", "b"), ("Header", "{[s]}"), ("Method", "s"),
        ("CheckRestart", "CheckRestart?"), ("GRPCService", "s"), ("GRPCUseTLS", "b"),
        ("TaskName", "s"), ("SuccessBeforePassing", "i"), ("FailuresBeforeCritical", "i"),
    ),
    "CheckRestart": (("Limit", "i"), ("Grace", "d?"), ("IgnoreWarnings", "b")),
    "ScalingPolicy": (
        ("Min", "i?"), ("Max", "i?"), ("Policy", "{*}"), ("Enabled", "b?"), ("Type", "s"),
        ("ID", "s"), ("Namespace", "s"), ("Target", "{s}"), ("CreateIndex", "i"),
        ("ModifyIndex", "i"),
    ),
    "Task": (
        ("Name", "s"), ("Driver", "s"), ("User", "s"), ("Lifecycle", "TaskLifecycle?"),
        ("Config", "{*}"), ("Constraints", "[Constraint]"), ("Affinities", "[Affinity]"),
        ("Env", "{s}"), ("Services", "[Service]"), ("Resources", "Resources?"),
        ("RestartPolicy", "RestartPolicy?"), ("Meta", "{s}"), ("KillTimeout", "d?"),
        ("LogConfig", "LogConfig?"), ("Artifacts", "[TaskArtifact]"), ("Vault", "Vault?"),
        ("Consul", "Consul~"),
        ("Templates", "[Template]"), ("DispatchPayload", "DispatchPayloadConfig?"),
        ("VolumeMounts", "[VolumeMount]"), ("CSIPluginConfig", "TaskCSIPluginConfig~"),
        ("Leader", "b"), ("ShutdownDelay", "d"),
        ("KillSignal", "s"), ("Kind", "s"), ("ScalingPolicies", "[ScalingPolicy]"),
        ("Identity", "WorkloadIdentity~"), ("Identities", "[WorkloadIdentity]~"),
        ("Actions", "[Action]~"),
    ),
    "TaskLifecycle": (("Hook", "s"), ("Sidecar", "b")),
    "TaskCSIPluginConfig": (("ID", "s"), ("Type", "s"), ("MountDir", "s")),
    "Resources": (
        ("CPU", "i?"), ("MemoryMB", "i?"), ("DiskMB", "i?"), ("Networks", "[NetworkResource]"),
        ("Devices", "[RequestedDevice]"), ("IOPS", "i?"),
    ),
    "RequestedDevice": (
        ("Name", "s"), ("Count", "i?"), ("Constraints", "[Constraint]"),
        ("Affinities", "[Affinity]"),
    ),
    "LogConfig": (("MaxFiles", "i?"), ("MaxFileSizeMB", "i?")),
    "TaskArtifact": (
        ("GetterSource", "s?"), ("GetterOptions", "{s}"), ("GetterHeaders", "{s}"),
        ("GetterMode", "s?"), ("RelativeDest", "s?"),
    ),
    "Vault": (
        ("Policies", "[s]"), ("Role", "s~"), ("Namespace", "s?"), ("Cluster", "s~"), ("Env", "b?"),
        ("DisableFile", "b~"), ("ChangeMode", "s?"), ("ChangeSignal", "s?"),
        ("AllowTokenExpiration", "b~"),
    ),
    "Template": (
        ("SourcePath", "s?"), ("DestPath", "s?"), ("EmbeddedTmpl", "s?"), ("ChangeMode", "s?"),
        ("ChangeScript", "ChangeScript~"), ("ChangeSignal", "s?"), ("Once", "b~"), ("Splay", "d?"),
        ("Perms", "s?"), ("Uid", "i~"), ("Gid", "i~"), ("LeftDelim", "s?"),
        ("RightDelim", "s?"), ("Envvars", "b?"), ("VaultGrace", "d?"), ("Wait", "WaitConfig~"),
        ("ErrMissingKey", "b~"),
    ),
    "DispatchPayloadConfig": (("File", "s"),),
    "VolumeMount": (
        ("Volume", "s?"), ("Destination", "s?"), ("ReadOnly", "b?"), ("PropagationMode", "s?"),
    ),
}

ZERO: dict[str, Any] = {"s": "", "i": 0, "b": False, "d": 0}
SCALAR_NAMES = {"s": "a string", "i": "an integer", "b": "a boolean", "d": "a duration"}
