"""Task driver ``config`` schemas: which keys each driver knows and needs.

Data only.  Drivers decode ``config`` against a fixed spec and fail the task
at start on a key they do not know, long after ``nomad job run`` succeeded, so
``lint`` checks the keys up front.  Drivers not listed here (third-party
plugins, ``mock_driver`` ...) are passed through unchecked.

Key sets follow the drivers' own task config specs (Nomad 1.0 built-ins, the
podman plugin, and the Apple ``container`` plugin's README); keys added by
later versions are included too, so a newer job is not flagged wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DriverSchema:
    """``keys`` a driver accepts in ``config``; ``required`` must be present;
    ``one_of`` groups where at least one key must be present; ``blocks`` gives
    the keys of nested blocks that are checked too (e.g. ``auth``)."""

    keys: frozenset[str]
    required: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    blocks: tuple[tuple[str, frozenset[str]], ...] = ()
    isolation: str = "chroot"  # "image", "chroot" or "none": where the task's files live


_AUTH = frozenset({"username", "password", "email", "server_address"})

DOCKER = DriverSchema(
    keys=frozenset(
        {
            "image",
            "args",
            "auth",
            "auth_soft_fail",
            "cap_add",
            "cap_drop",
            "command",
            "cpu_cfs_period",
            "cpu_hard_limit",
            "cpuset_cpus",
            "devices",
            "dns_options",
            "dns_search_domains",
            "dns_servers",
            "entrypoint",
            "extra_hosts",
            "force_pull",
            "group_add",
            "healthchecks",
            "hostname",
            "image_pull_timeout",
            "init",
            "interactive",
            "ipc_mode",
            "ipv4_address",
            "ipv6_address",
            "isolation",
            "labels",
            "load",
            "logging",
            "mac_address",
            "memory_hard_limit",
            "mount",
            "mounts",
            "network_aliases",
            "network_mode",
            "oom_score_adj",
            "pid_mode",
            "pids_limit",
            "port_map",
            "ports",
            "privileged",
            "readonly_rootfs",
            "runtime",
            "security_opt",
            "shm_size",
            "storage_opt",
            "sysctl",
            "tty",
            "ulimit",
            "userns_mode",
            "uts_mode",
            "volume_driver",
            "volumes",
            "work_dir",
            "advertise_ipv6_address",
            "container_exists_attempts",
        }
    ),
    required=("image",),
    blocks=(("auth", _AUTH),),
    isolation="image",
)

PODMAN = DriverSchema(
    keys=frozenset(
        {
            "image",
            "apparmor_profile",
            "args",
            "auth",
            "cap_add",
            "cap_drop",
            "command",
            "cpu_hard_limit",
            "cpu_cfs_period",
            "devices",
            "dns",
            "entrypoint",
            "extra_hosts",
            "force_pull",
            "hostname",
            "image_pull_timeout",
            "init",
            "init_path",
            "labels",
            "logging",
            "memory_reservation",
            "memory_swap",
            "memory_swappiness",
            "network_mode",
            "pids_limit",
            "ports",
            "privileged",
            "readonly_rootfs",
            "security_opt",
            "selinux_opts",
            "shm_size",
            "socket",
            "sysctl",
            "tmpfs",
            "tty",
            "ulimit",
            "userns",
            "volumes",
            "working_dir",
        }
    ),
    required=("image",),
    blocks=(("auth", frozenset({"username", "password", "tls_verify"})),),
    isolation="image",
)

# Apple `container` task driver plugin (nomad-driver-container): task config table of its README.
CONTAINER = DriverSchema(
    keys=frozenset(
        {
            "image",
            "command",
            "args",
            "entrypoint",
            "working_dir",
            "env",
            "volumes",
            "tmpfs",
            "ports",
            "network_mode",
            "hostname",
            "user",
            "labels",
            "cap_add",
            "cap_drop",
            "readonly_rootfs",
            "init",
            "tty",
            "dns",
            "dns_search",
            "dns_options",
            "rosetta",
            "force_pull",
            "image_pull_timeout",
            "ssh_agent",
            "virtualization",
            "auth",
        }
    ),
    required=("image",),
    blocks=(("auth", frozenset({"username", "password", "server_address"})),),
    isolation="image",
)

QEMU = DriverSchema(
    keys=frozenset(
        {
            "image_path",
            "drive_interface",
            "accelerator",
            "graceful_shutdown",
            "guest_agent",
            "args",
            "port_map",
        }
    ),
    required=("image_path",),
    isolation="image",
)

EXEC = DriverSchema(
    keys=frozenset({"command", "args", "pid_mode", "ipc_mode", "cap_add", "cap_drop"}),
    required=("command",),
)

RAW_EXEC = DriverSchema(
    keys=frozenset({"command", "args"}), required=("command",), isolation="none"
)

JAVA = DriverSchema(
    keys=frozenset(
        {"class", "class_path", "jar_path", "jvm_options", "args", "pid_mode", "ipc_mode"}
    ),
    one_of=(("jar_path", "class"),),
)

SCHEMAS: dict[str, DriverSchema] = {
    "docker": DOCKER,
    "podman": PODMAN,
    "container": CONTAINER,
    "qemu": QEMU,
    "exec": EXEC,
    "raw_exec": RAW_EXEC,
    "java": JAVA,
}

#: Drivers whose tasks see only local/, secrets/ and alloc/ of the task directory.
IMAGE_ISOLATION_DRIVERS: frozenset[str] = frozenset(
    name for name, schema in SCHEMAS.items() if schema.isolation == "image"
)
