"""Names of the job specification that Nomad added after 1.0, with the release that added them.

Data for ``lint``: the converter reads Nomad 1.0's job specification and the later
blocks its schema lists (``disconnect``, ``node_pool``, ``identity``... see
``jobspec/hcl_schema.py``; ``lint.later_blocks`` says which releases refuse those), so
a file using another later block or argument fails to load with HCL's "Unsupported
argument"/"Unsupported block type"; lint then names the release whose specification
has it.  Derived from the ``hcl:"<name>,optional|block"``
tags of Nomad's ``api`` package (api/*.go, without the namespace, node pool and quota
specifications) at v1.0.18 and at each later minor release up to v2.0.0 (v1.11.0-rc.1
for 1.11): a name absent at v1.0.18 is listed with the first release that has it.
A name is not a place: the same name may belong to another block there.
"""

from __future__ import annotations

import re

Version = tuple[int, int, int]

#: jobspec name -> the first Nomad release whose api package declares it
LATER_NAMES: dict[str, Version] = {
    **dict.fromkeys((
        "access_mode", "attachment_mode", "body", "consul", "cores",
        "disable_default_tcp_check", "local_bind_address", "memory_max", "on_update",
        "per_alloc",
    ), (1, 1, 0)),
    **dict.fromkeys((
        "hostname", "mesh", "mesh_gateway",
    ), (1, 2, 0)),
    **dict.fromkeys((
        "advertise", "max_client_disconnect", "provider", "wait",
    ), (1, 3, 0)),
    **dict.fromkeys((
        "change_script", "cipher_suites", "destination_namespace", "gid", "health_timeout",
        "stage_publish_base_dir", "tagged_addresses", "tls_max_version", "tls_min_version",
        "uid",
    ), (1, 4, 0)),
    **dict.fromkeys((
        "error_on_missing_key", "identity",
    ), (1, 5, 0)),
    **dict.fromkeys((
        "disable_file", "disabled", "node_pool", "tls_server_name",
    ), (1, 6, 0)),
    **dict.fromkeys((
        "action", "aud", "cluster", "crons", "destination_peer", "destination_type",
        "local_bind_socket_mode", "local_bind_socket_path", "numa", "render_templates", "role",
        "service_name", "ttl",
    ), (1, 7, 0)),
    **dict.fromkeys((
        "add", "allow_token_expiration", "cert_resource", "cluster_name",
        "destination_partition", "disconnect", "end", "exclude_inbound_ports",
        "exclude_outbound_cidrs", "exclude_outbound_ports", "exclude_uids",
        "failures_before_warning", "insecure", "label", "link", "lost_after",
        "max_concurrent_requests", "max_connections", "max_pending_requests", "no_dns",
        "outbound_port", "partition", "prevent_reschedule_on_lost", "reconcile", "remove",
        "replace", "request_headers", "response_headers", "schedule", "sds", "selinux_label",
        "set", "start", "stop_on_client_after", "timezone", "transparent_proxy", "ui", "url",
    ), (1, 8, 0)),
    **dict.fromkeys((
        "cni", "devices", "filepath", "ignore_collision", "notes", "secrets",
    ), (1, 9, 0)),
    **dict.fromkeys((
        "chown", "passing", "warning", "weights",
    ), (1, 10, 0)),
    **dict.fromkeys((
        "once", "secret",
    ), (1, 11, 0)),
}

_UNSUPPORTED = re.compile(
    r'Unsupported (?:argument; An argument named|block type; Blocks of type) "([a-z_0-9]+)"'
)


def release_hint(message: str) -> str:
    """A load error's text, with the release that knows the refused name, if a later one does."""
    found = _UNSUPPORTED.search(message)
    if found is None or found.group(1) not in LATER_NAMES:
        return message
    name, release = found.group(1), ".".join(map(str, LATER_NAMES[found.group(1)]))
    return (
        f'{message} ("{name}" is in the job specification from Nomad {release}; '
        "nomad-reconciler reads Nomad 1.0's and only the later blocks listed in "
        "reconciler/jobspec/hcl_schema.py)"
    )
