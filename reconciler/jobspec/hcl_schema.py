"""The jobspec block schema of Nomad 1.0 and the later blocks and arguments users
hit most: which blocks and arguments exist where, and which API JSON field each fills.

A field with ``since`` is in the job specification from that release on (the ``hcl``
tags of Nomad's ``api`` package at the tag cited beside it): a converter told an
older release does not know it, so HCL refuses it there exactly as that release's
``nomad job run`` does.  In a struct Nomad 1.0 already had, such a field is printed
only when the file sets it, so a file using none of them converts to the same JSON
as before; the structs added later print every field they know.

Each ``Struct`` lists its API fields in the order Nomad's ``api`` package
declares them (the order ``nomad job run -output`` prints), each with the HCL
name that sets it and how its value is decoded.  Fields no HCL name sets are
printed with their Go zero value (``""``, ``0``, ``false``) or ``null`` for
pointers, slices and maps, exactly as the CLI does.  Data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Attr:
    """An API field set from an HCL argument.

    kind: ``string``, ``int``, ``bool``, ``float``, ``duration``, ``strings``
    (list of string), ``string_map`` (map of string, block or attribute form),
    ``string_list_map`` (map of list of string), ``opaque`` (driver config:
    nested blocks become lists of maps).  ``pointer`` fields are null when
    unset, the others take Go's zero value.
    """

    json: str
    hcl: str | None
    kind: str
    pointer: bool = True
    since: Version | None = None


@dataclass(frozen=True)
class Nested:
    """An API field set from nested blocks.

    mode: ``one`` (a single optional block), ``list`` (repeatable, in order),
    ``map`` (labelled blocks keyed by label).  ``label`` names the field the
    block's label fills.
    """

    json: str
    hcl: str
    struct: str
    mode: str = "one"
    label: str | None = None
    since: Version | None = None


@dataclass(frozen=True)
class Fixed:
    """An API field no HCL sets: always its zero value (or null)."""

    json: str
    value: Any = None


Field = Attr | Nested | Fixed


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[Field, ...]
    extra_attrs: tuple[str, ...] = ()  # accepted HCL arguments handled by hooks
    extra_blocks: tuple[str, ...] = ()  # accepted HCL blocks handled by hooks
    attr_maps: tuple[str, ...] = ()  # string maps that may also be written as `name = {...}`
    omit_empty: tuple[str, ...] = field(default=())  # fields with `json:",omitempty"`
    added: bool = False  # a struct Nomad added after 1.0: its later fields are always printed
    required: tuple[str, ...] = ()  # HCL arguments without ",optional" in the api tag

    def known(self, version: Version | None) -> tuple[Field, ...]:
        """The fields the job specification of ``version`` has (``None``: every one)."""
        return tuple(f for f in self.fields if _known(f, version))

    def attrs_at(self, version: Version | None) -> dict[str, Attr]:
        return {f.hcl: f for f in self.known(version) if isinstance(f, Attr) and f.hcl}

    def blocks_at(self, version: Version | None) -> dict[str, Nested]:
        return {f.hcl: f for f in self.known(version) if isinstance(f, Nested)}

    @property
    def attrs(self) -> dict[str, Attr]:
        return self.attrs_at(None)

    @property
    def blocks(self) -> dict[str, Nested]:
        return self.blocks_at(None)


def _known(f: Field, version: Version | None) -> bool:
    since = getattr(f, "since", None)
    return since is None or version is None or version >= since


def _s(json: str, hcl: str | None, kind: str = "string", pointer: bool = True) -> Attr:
    return Attr(json, hcl, kind, pointer)


def _v(json: str, hcl: str | None, kind: str = "string") -> Attr:
    """A value (non-pointer) field: zero value when unset."""
    return Attr(json, hcl, kind, False)


def _later(json: str, hcl: str, kind: str, since: Version, *, pointer: bool = True) -> Attr:
    """An argument Nomad added in release ``since``."""
    return Attr(json, hcl, kind, pointer, since)


CONSTRAINT = Struct(
    "constraint",
    (_v("LTarget", "attribute"), _v("RTarget", "value"), _v("Operand", "operator")),
    extra_attrs=(
        "version", "semver", "regexp", "set_contains", "distinct_hosts", "distinct_property",
        "set_contains_any", "set_contains_all", "is_set", "is_not_set",
    ),
)

AFFINITY = Struct(
    "affinity",
    (_v("LTarget", "attribute"), _v("RTarget", "value"), _v("Operand", "operator"), _s("Weight", "weight", "int")),
    extra_attrs=("version", "semver", "regexp", "set_contains", "set_contains_any", "set_contains_all"),
)

SPREAD_TARGET = Struct("target", (Fixed("Value", ""), _v("Percent", "percent", "int")))

SPREAD = Struct(
    "spread",
    (
        _v("Attribute", "attribute"),
        _s("Weight", "weight", "int"),
        Nested("SpreadTarget", "target", "target", "list", label="Value"),
    ),
)

UPDATE = Struct(
    "update",
    (
        _s("Stagger", "stagger", "duration"),
        _s("MaxParallel", "max_parallel", "int"),
        _s("HealthCheck", "health_check"),
        _s("MinHealthyTime", "min_healthy_time", "duration"),
        _s("HealthyDeadline", "healthy_deadline", "duration"),
        _s("ProgressDeadline", "progress_deadline", "duration"),
        _s("Canary", "canary", "int"),
        _s("AutoRevert", "auto_revert", "bool"),
        _s("AutoPromote", "auto_promote", "bool"),
    ),
)

MULTIREGION_STRATEGY = Struct(
    "strategy", (_s("MaxParallel", "max_parallel", "int"), _s("OnFailure", "on_failure"))
)
MULTIREGION_REGION = Struct(
    "region",
    (
        Fixed("Name", ""),
        _s("Count", "count", "int"),
        _s("Datacenters", "datacenters", "strings"),
        _s("Meta", "meta", "string_map"),
    ),
)
MULTIREGION = Struct(
    "multiregion",
    (
        Nested("Strategy", "strategy", "strategy"),
        Nested("Regions", "region", "region", "list", label="Name"),
    ),
)

PERIODIC = Struct(
    "periodic",
    (
        _s("Enabled", "enabled", "bool"),
        _s("Spec", "cron"),
        Fixed("SpecType"),
        _s("ProhibitOverlap", "prohibit_overlap", "bool"),
        _s("TimeZone", "time_zone"),
    ),
)

PARAMETERIZED = Struct(
    "parameterized",
    (
        _v("Payload", "payload"),
        _s("MetaRequired", "meta_required", "strings"),
        _s("MetaOptional", "meta_optional", "strings"),
    ),
)

RESCHEDULE = Struct(
    "reschedule",
    (
        _s("Attempts", "attempts", "int"),
        _s("Interval", "interval", "duration"),
        _s("Delay", "delay", "duration"),
        _s("DelayFunction", "delay_function"),
        _s("MaxDelay", "max_delay", "duration"),
        _s("Unlimited", "unlimited", "bool"),
    ),
)

MIGRATE = Struct(
    "migrate",
    (
        _s("MaxParallel", "max_parallel", "int"),
        _s("HealthCheck", "health_check"),
        _s("MinHealthyTime", "min_healthy_time", "duration"),
        _s("HealthyDeadline", "healthy_deadline", "duration"),
    ),
)

RESTART = Struct(
    "restart",
    (
        _s("Interval", "interval", "duration"),
        _s("Attempts", "attempts", "int"),
        _s("Delay", "delay", "duration"),
        _s("Mode", "mode"),
        _later("RenderTemplates", "render_templates", "bool", (1, 6, 2)),  # api/tasks.go v1.6.2
    ),
)

EPHEMERAL_DISK = Struct(
    "ephemeral_disk",
    (_s("Sticky", "sticky", "bool"), _s("Migrate", "migrate", "bool"), _s("SizeMB", "size", "int")),
)

DNS = Struct(
    "dns",
    (
        _s("Servers", "servers", "strings"),
        _s("Searches", "searches", "strings"),
        _s("Options", "options", "strings"),
    ),
)

PORT = Struct(
    "port",
    (Fixed("Label", ""), _v("Value", "static", "int"), _v("To", "to", "int"), _v("HostNetwork", "host_network")),
)

NETWORK = Struct(
    "network",
    (
        _v("Mode", "mode"),
        _v("Device", "device"),
        _v("CIDR", "cidr"),
        _v("IP", "ip"),
        Nested("DNS", "dns", "dns"),
        Fixed("ReservedPorts"),
        Fixed("DynamicPorts"),
        _s("MBits", "mbits", "int"),
    ),
    extra_blocks=("port",),
)

CHECK_RESTART = Struct(
    "check_restart",
    (_v("Limit", "limit", "int"), _s("Grace", "grace", "duration"), _v("IgnoreWarnings", "ignore_warnings", "bool")),
)

CHECK = Struct(
    "check",
    (
        _v("Id", "id"),
        _v("Name", "name"),
        _v("Type", "type"),
        _v("Command", "command"),
        _s("Args", "args", "strings"),
        _v("Path", "path"),
        _v("Protocol", "protocol"),
        _v("PortLabel", "port"),
        _v("Expose", "expose", "bool"),
        _v("AddressMode", "address_mode"),
        _v("Interval", "interval", "duration"),
        _v("Timeout", "timeout", "duration"),
        _v("InitialStatus", "initial_status"),
        _v("TLSSkipVerify", "tls_skip_verify", "bool"),
        _s("Header", "header", "string_list_map"),
        _v("Method", "method"),
        Nested("CheckRestart", "check_restart", "check_restart"),
        _v("GRPCService", "grpc_service"),
        _v("GRPCUseTLS", "grpc_use_tls", "bool"),
        _v("TaskName", "task"),
        _v("SuccessBeforePassing", "success_before_passing", "int"),
        _v("FailuresBeforeCritical", "failures_before_critical", "int"),
    ),
)

UPSTREAM = Struct(
    "upstreams",
    (
        _v("DestinationName", "destination_name"),
        _v("LocalBindPort", "local_bind_port", "int"),
        _v("Datacenter", "datacenter"),
    ),
)
EXPOSE_PATH = Struct(
    "path",
    (
        _v("Path", "path"),
        _v("Protocol", "protocol"),
        _v("LocalPathPort", "local_path_port", "int"),
        _v("ListenerPort", "listener_port"),
    ),
)
EXPOSE = Struct("expose", (Nested("Path", "path", "path", "list"),))
PROXY = Struct(
    "proxy",
    (
        _v("LocalServiceAddress", "local_service_address"),
        _v("LocalServicePort", "local_service_port", "int"),
        Nested("ExposeConfig", "expose", "expose"),
        Nested("Upstreams", "upstreams", "upstreams", "list"),
        _s("Config", "config", "opaque"),
    ),
)
SIDECAR_SERVICE = Struct(
    "sidecar_service",
    (
        _s("Tags", "tags", "strings"),
        _v("Port", "port"),
        Nested("Proxy", "proxy", "proxy"),
    ),
)
SIDECAR_TASK = Struct(
    "sidecar_task",
    (
        _v("Name", "name"),
        _v("Driver", "driver"),
        _v("User", "user"),
        _s("Config", "config", "opaque"),
        _s("Env", "env", "string_map"),
        Nested("Resources", "resources", "resources"),
        _s("Meta", "meta", "string_map"),
        _s("KillTimeout", "kill_timeout", "duration"),
        Nested("LogConfig", "logs", "logs"),
        _s("ShutdownDelay", "shutdown_delay", "duration"),
        _v("KillSignal", "kill_signal"),
    ),
)
GATEWAY_BIND_ADDRESS = Struct(
    "envoy_gateway_bind_addresses",
    (Fixed("Name", ""), _v("Address", "address"), _v("Port", "port", "int")),
)
GATEWAY_PROXY = Struct(
    "gateway_proxy",
    (
        _s("ConnectTimeout", "connect_timeout", "duration"),
        _v("EnvoyGatewayBindTaggedAddresses", "envoy_gateway_bind_tagged_addresses", "bool"),
        Nested("EnvoyGatewayBindAddresses", "envoy_gateway_bind_addresses", "envoy_gateway_bind_addresses", "map", label="Name"),
        _v("EnvoyGatewayNoDefaultBind", "envoy_gateway_no_default_bind", "bool"),
        _v("EnvoyDNSDiscoveryType", "envoy_dns_discovery_type"),
        _s("Config", "config", "opaque"),
    ),
)
GATEWAY_TLS = Struct("tls", (_v("Enabled", "enabled", "bool"),))
INGRESS_SERVICE = Struct("ingress_service", (_v("Name", "name"), _s("Hosts", "hosts", "strings")))
INGRESS_LISTENER = Struct(
    "listener",
    (
        _v("Port", "port", "int"),
        _v("Protocol", "protocol"),
        Nested("Services", "service", "ingress_service", "list"),
    ),
)
INGRESS = Struct(
    "ingress", (Nested("TLS", "tls", "tls"), Nested("Listeners", "listener", "listener", "list"))
)
LINKED_SERVICE = Struct(
    "linked_service",
    (
        _v("Name", "name"),
        _v("CAFile", "ca_file"),
        _v("CertFile", "cert_file"),
        _v("KeyFile", "key_file"),
        _v("SNI", "sni"),
    ),
)
TERMINATING = Struct("terminating", (Nested("Services", "service", "linked_service", "list"),))
GATEWAY = Struct(
    "gateway",
    (
        Nested("Proxy", "proxy", "gateway_proxy"),
        Nested("Ingress", "ingress", "ingress"),
        Nested("Terminating", "terminating", "terminating"),
    ),
)
CONNECT = Struct(
    "connect",
    (
        _v("Native", "native", "bool"),
        Nested("Gateway", "gateway", "gateway"),
        Nested("SidecarService", "sidecar_service", "sidecar_service"),
        Nested("SidecarTask", "sidecar_task", "sidecar_task"),
    ),
)

SERVICE = Struct(
    "service",
    (
        _v("Id", "id"),
        _v("Name", "name"),
        _s("Tags", "tags", "strings"),
        _s("CanaryTags", "canary_tags", "strings"),
        _v("EnableTagOverride", "enable_tag_override", "bool"),
        _v("PortLabel", "port"),
        _v("AddressMode", "address_mode"),
        Nested("Checks", "check", "check", "list"),
        Nested("CheckRestart", "check_restart", "check_restart"),
        Nested("Connect", "connect", "connect"),
        _s("Meta", "meta", "string_map"),
        _s("CanaryMeta", "canary_meta", "string_map"),
        _v("TaskName", "task"),
        _later("Provider", "provider", "string", (1, 3, 0), pointer=False),  # api/services.go v1.3.0
    ),
)

DEVICE = Struct(
    "device",
    (
        Fixed("Name", ""),
        _s("Count", "count", "int"),
        Nested("Constraints", "constraint", "constraint", "list"),
        Nested("Affinities", "affinity", "affinity", "list"),
    ),
)

RESOURCES = Struct(
    "resources",
    (
        _s("CPU", "cpu", "int"),
        _s("MemoryMB", "memory", "int"),
        _s("DiskMB", "disk", "int"),
        Nested("Networks", "network", "network", "list"),
        Nested("Devices", "device", "device", "list", label="Name"),
        _s("IOPS", "iops", "int"),
    ),
)

LOGS = Struct("logs", (_s("MaxFiles", "max_files", "int"), _s("MaxFileSizeMB", "max_file_size", "int")))

ARTIFACT = Struct(
    "artifact",
    (
        _s("GetterSource", "source"),
        _s("GetterOptions", "options", "string_map"),
        _s("GetterHeaders", "headers", "string_map"),
        _s("GetterMode", "mode"),
        _s("RelativeDest", "destination"),
    ),
)

VAULT = Struct(
    "vault",
    (
        _s("Policies", "policies", "strings"),
        _later("Role", "role", "string", (1, 7, 0), pointer=False),  # api/tasks.go v1.7.0
        _s("Namespace", "namespace"),
        _later("Cluster", "cluster", "string", (1, 7, 0), pointer=False),  # api/tasks.go v1.7.0
        _s("Env", "env", "bool"),
        _later("DisableFile", "disable_file", "bool", (1, 6, 0)),  # api/tasks.go v1.6.0
        _s("ChangeMode", "change_mode"),
        _s("ChangeSignal", "change_signal"),
        _later("AllowTokenExpiration", "allow_token_expiration", "bool", (1, 7, 3)),  # api/tasks.go v1.7.3
    ),
)

# api/consul.go: the group block (v1.1.0), the task block (api/tasks.go v1.7.0).
CONSUL = Struct(
    "consul",
    (
        _v("Namespace", "namespace"),
        _later("Cluster", "cluster", "string", (1, 7, 0), pointer=False),
        _later("Partition", "partition", "string", (1, 7, 3), pointer=False),
    ),
    added=True,
)

# api/tasks.go v1.3.0 WaitConfig and v1.4.0 ChangeScript (jobspec2/parse_job.go v1.8.0
# normalizeChangeScript fills args, timeout and fail_on_error).
WAIT = Struct("wait", (_s("Min", "min", "duration"), _s("Max", "max", "duration")), added=True, required=("min", "max"))
CHANGE_SCRIPT = Struct(
    "change_script",
    (
        _s("Command", "command"),
        _s("Args", "args", "strings"),
        _s("Timeout", "timeout", "duration"),
        _s("FailOnError", "fail_on_error", "bool"),
    ),
    added=True,
    required=("command", "fail_on_error"),
)

TEMPLATE = Struct(
    "template",
    (
        _s("SourcePath", "source"),
        _s("DestPath", "destination"),
        _s("EmbeddedTmpl", "data"),
        _s("ChangeMode", "change_mode"),
        Nested("ChangeScript", "change_script", "change_script", since=(1, 4, 0)),  # api/tasks.go v1.4.0
        _s("ChangeSignal", "change_signal"),
        _later("Once", "once", "bool", (1, 10, 2)),  # api/tasks.go v1.10.2
        _s("Splay", "splay", "duration"),
        _s("Perms", "perms"),
        _later("Uid", "uid", "int", (1, 4, 0)),  # api/tasks.go v1.4.0
        _later("Gid", "gid", "int", (1, 4, 0)),
        _s("LeftDelim", "left_delimiter"),
        _s("RightDelim", "right_delimiter"),
        _s("Envvars", "env", "bool"),
        _s("VaultGrace", "vault_grace", "duration"),
        Nested("Wait", "wait", "wait", since=(1, 3, 0)),  # api/tasks.go v1.3.0
        _later("ErrMissingKey", "error_on_missing_key", "bool", (1, 4, 3)),  # api/tasks.go v1.4.3
    ),
)

DISPATCH_PAYLOAD = Struct("dispatch_payload", (_v("File", "file"),))

VOLUME_MOUNT = Struct(
    "volume_mount",
    (
        _s("Volume", "volume"),
        _s("Destination", "destination"),
        _s("ReadOnly", "read_only", "bool"),
        _s("PropagationMode", "propagation_mode"),
    ),
)

MOUNT_OPTIONS = Struct("mount_options", (_v("FSType", "fs_type"), _s("MountFlags", "mount_flags", "strings")))

VOLUME = Struct(
    "volume",
    (
        Fixed("Name", ""),
        _v("Type", "type"),
        _v("Source", "source"),
        _v("ReadOnly", "read_only", "bool"),
        Nested("MountOptions", "mount_options", "mount_options"),
    ),
)

LIFECYCLE = Struct("lifecycle", (_v("Hook", "hook"), _v("Sidecar", "sidecar", "bool")))

CSI_PLUGIN = Struct("csi_plugin", (_v("ID", "id"), _v("Type", "type"), _v("MountDir", "mount_dir")))

SCALING = Struct(
    "scaling",
    (
        _s("Min", "min", "int"),
        _s("Max", "max", "int"),
        _s("Policy", "policy", "opaque"),
        _s("Enabled", "enabled", "bool"),
        _v("Type", "type"),
        Fixed("ID", ""),
        Fixed("Namespace", ""),
        Fixed("Target"),
        Fixed("CreateIndex", 0),
        Fixed("ModifyIndex", 0),
    ),
)

# api/tasks.go v1.5.0 WorkloadIdentity (env, file); v1.7.0 adds the rest and makes
# `identity` repeatable (Task.Identities); v1.9.0 adds filepath.
WORKLOAD_IDENTITY = Struct(
    "identity",
    (
        _later("Name", "name", "string", (1, 7, 0), pointer=False),
        _later("Audience", "aud", "strings", (1, 7, 0)),
        _later("ChangeMode", "change_mode", "string", (1, 7, 0), pointer=False),
        _later("ChangeSignal", "change_signal", "string", (1, 7, 0), pointer=False),
        _v("Env", "env", "bool"),
        _v("File", "file", "bool"),
        _later("Filepath", "filepath", "string", (1, 9, 0), pointer=False),
        _later("ServiceName", "service_name", "string", (1, 7, 0), pointer=False),
        _later("TTL", "ttl", "duration", (1, 7, 0), pointer=False),
    ),
    added=True,
)

# api/tasks.go v1.7.0 Action: `command` is required (no ",optional").
ACTION = Struct(
    "action", (Fixed("Name", ""), _v("Command", "command"), _s("Args", "args", "strings")), added=True
)

TASK = Struct(
    "task",
    (
        Fixed("Name", ""),
        _v("Driver", "driver"),
        _v("User", "user"),
        Nested("Lifecycle", "lifecycle", "lifecycle"),
        _s("Config", "config", "opaque"),
        Nested("Constraints", "constraint", "constraint", "list"),
        Nested("Affinities", "affinity", "affinity", "list"),
        _s("Env", "env", "string_map"),
        Nested("Services", "service", "service", "list"),
        Nested("Resources", "resources", "resources"),
        Nested("RestartPolicy", "restart", "restart"),
        _s("Meta", "meta", "string_map"),
        _s("KillTimeout", "kill_timeout", "duration"),
        Nested("LogConfig", "logs", "logs"),
        Nested("Artifacts", "artifact", "artifact", "list"),
        Nested("Vault", "vault", "vault"),
        Nested("Consul", "consul", "consul", since=(1, 7, 0)),  # api/tasks.go v1.7.0
        Nested("Templates", "template", "template", "list"),
        Nested("DispatchPayload", "dispatch_payload", "dispatch_payload"),
        Nested("VolumeMounts", "volume_mount", "volume_mount", "list"),
        Nested("CSIPluginConfig", "csi_plugin", "csi_plugin"),
        _v("Leader", "leader", "bool"),
        _v("ShutdownDelay", "shutdown_delay", "duration"),
        _v("KillSignal", "kill_signal"),
        _v("Kind", "kind"),
        Fixed("ScalingPolicies"),
        # api/tasks.go v1.5.0: one `identity` block; v1.7.0: repeatable, the unnamed or
        # "default" one moved to Identity by jobspec2/parse_job.go normalizeJob.
        Nested("Identities", "identity", "identity", "list", since=(1, 5, 0)),
        Nested("Actions", "action", "action", "list", label="Name", since=(1, 7, 0)),
    ),
    extra_blocks=("scaling",),
    attr_maps=("env", "meta"),
    omit_empty=("CSIPluginConfig",),
)

# api/tasks.go v1.8.0 DisconnectStrategy (jobspec2 prints it as decoded: the
# defaults come from Canonicalize, on the server).
DISCONNECT = Struct(
    "disconnect",
    (
        _s("LostAfter", "lost_after", "duration"),
        _s("StopOnClientAfter", "stop_on_client_after", "duration"),
        _s("Replace", "replace", "bool"),
        _s("Reconcile", "reconcile"),
    ),
    added=True,
)

GROUP = Struct(
    "group",
    (
        Fixed("Name", ""),
        _s("Count", "count", "int"),
        Nested("Constraints", "constraint", "constraint", "list"),
        Nested("Affinities", "affinity", "affinity", "list"),
        Nested("Tasks", "task", "task", "list", label="Name"),
        Nested("Spreads", "spread", "spread", "list"),
        Nested("Volumes", "volume", "volume", "map", label="Name"),
        Nested("RestartPolicy", "restart", "restart"),
        Nested("Disconnect", "disconnect", "disconnect", since=(1, 8, 0)),  # api/tasks.go v1.8.0
        Nested("ReschedulePolicy", "reschedule", "reschedule"),
        Nested("EphemeralDisk", "ephemeral_disk", "ephemeral_disk"),
        Nested("Update", "update", "update"),
        Nested("Migrate", "migrate", "migrate"),
        Nested("Networks", "network", "network", "list"),
        _s("Meta", "meta", "string_map"),
        Nested("Services", "service", "service", "list"),
        _s("ShutdownDelay", "shutdown_delay", "duration"),
        _s("StopAfterClientDisconnect", "stop_after_client_disconnect", "duration"),
        _later("MaxClientDisconnect", "max_client_disconnect", "duration", (1, 3, 0)),  # api/tasks.go v1.3.0
        Nested("Scaling", "scaling", "scaling"),
        Nested("Consul", "consul", "consul", since=(1, 1, 0)),  # api/tasks.go v1.1.0
        _later("PreventRescheduleOnLost", "prevent_reschedule_on_lost", "bool", (1, 7, 2)),  # api/tasks.go v1.7.2
    ),
    extra_blocks=("vault",),
    attr_maps=("meta",),
)

# api/jobs.go v1.8.0 JobUIConfig, JobUILink.
UI_LINK = Struct("link", (_v("Label", "label"), _v("URL", "url")), added=True)
UI = Struct("ui", (_v("Description", "description"), Nested("Links", "link", "link", "list")), added=True)

JOB = Struct(
    "job",
    (
        _s("Region", "region"),
        _s("Namespace", "namespace"),
        _s("ID", "id"),
        _s("Name", "name"),
        _s("Type", "type"),
        _s("Priority", "priority", "int"),
        _s("AllAtOnce", "all_at_once", "bool"),
        _s("Datacenters", "datacenters", "strings"),
        _later("NodePool", "node_pool", "string", (1, 6, 0)),  # api/jobs.go v1.6.0
        Nested("Constraints", "constraint", "constraint", "list"),
        Nested("Affinities", "affinity", "affinity", "list"),
        Nested("TaskGroups", "group", "group", "list", label="Name"),
        Nested("Update", "update", "update"),
        Nested("Multiregion", "multiregion", "multiregion"),
        Nested("Spreads", "spread", "spread", "list"),
        Nested("Periodic", "periodic", "periodic"),
        Nested("ParameterizedJob", "parameterized", "parameterized"),
        Nested("Reschedule", "reschedule", "reschedule"),
        Nested("Migrate", "migrate", "migrate"),
        _s("Meta", "meta", "string_map"),
        _s("ConsulToken", "consul_token"),
        _s("VaultToken", "vault_token"),
        Nested("UI", "ui", "ui", since=(1, 8, 0)),  # api/jobs.go v1.8.0
        Fixed("Stop"),
        Fixed("ParentID"),
        Fixed("Dispatched", False),
        Fixed("Payload"),
        Fixed("VaultNamespace"),  # no HCL argument sets it in Nomad 1.0
        Fixed("NomadTokenID"),
        Fixed("Status"),
        Fixed("StatusDescription"),
        Fixed("Stable"),
        Fixed("Version"),
        Fixed("SubmitTime"),
        Fixed("CreateIndex"),
        Fixed("ModifyIndex"),
        Fixed("JobModifyIndex"),
    ),
    extra_blocks=("task", "vault"),
    attr_maps=("meta",),
)

STRUCTS: dict[str, Struct] = {
    s.name: s
    for s in (
        CONSTRAINT, AFFINITY, SPREAD_TARGET, SPREAD, UPDATE, MULTIREGION_STRATEGY, MULTIREGION_REGION,
        MULTIREGION, PERIODIC, PARAMETERIZED, RESCHEDULE, MIGRATE, RESTART, EPHEMERAL_DISK, DNS, PORT,
        NETWORK, CHECK_RESTART, CHECK, UPSTREAM, EXPOSE_PATH, EXPOSE, PROXY, SIDECAR_SERVICE,
        SIDECAR_TASK, GATEWAY_BIND_ADDRESS, GATEWAY_PROXY, GATEWAY_TLS, INGRESS_SERVICE,
        INGRESS_LISTENER, INGRESS, LINKED_SERVICE, TERMINATING, GATEWAY, CONNECT, SERVICE, DEVICE, RESOURCES, LOGS, ARTIFACT, VAULT, TEMPLATE,
        DISPATCH_PAYLOAD, VOLUME_MOUNT, MOUNT_OPTIONS, VOLUME, LIFECYCLE, CSI_PLUGIN, SCALING, TASK,
        GROUP, JOB, WORKLOAD_IDENTITY, ACTION, DISCONNECT, UI_LINK, UI, CONSUL, WAIT, CHANGE_SCRIPT,
    )
}
