"""Which job IDs the reconciler accepts: the ones Nomad accepts *and* one URL can address.

Pure.  Nomad's own ``Job.Validate`` (``nomad/structs/structs.go``, unchanged
from v1.0.18 to v2.0.0) refuses only an ID with a space or a NUL.  But a job
is read, planned and stopped through ``/v1/job/<id>...``, and Nomad routes
those requests on the *decoded* path (``JobSpecificRequest`` in
``command/agent/job_endpoint.go`` trims ``/v1/job/`` from ``req.URL.Path`` and
dispatches on its suffix), so even a correctly escaped ID can address
something else:

* an ID ending in ``/<sub-resource>`` (``svc-01/summary``) reaches that
  sub-resource of another job (``svc-01``);
* an ID with an empty, ``.`` or ``..`` segment (``zz/../svc-02``, ``..``,
  ``a//b``, ``/x``, ``x/``) is cleaned by Go's ``http.ServeMux`` (up to
  Go 1.21, which builds Nomad up to 1.7.x per its ``.go-version``) and
  redirected to another path,
  e.g. ``/v1/job/svc-02``;
* control characters (newline, tab, escape...) are legal for Nomad but
  forge log lines and terminal output wherever the ID is printed.

``job_id_problem`` says why an ID is refused, or ``None``; the loader turns
that into an error of the file (so lint, plan, sync and the daemon all refuse
it and load the other jobs) and the Nomad client refuses to put such an ID in
a URL at all (defence in depth, and for live jobs registered by hand).
"""

from __future__ import annotations

import re

#: Suffixes ``JobSpecificRequest`` dispatches on, union over Nomad v1.0.18 ... v2.0.0.
JOB_SUB_RESOURCES = (
    "action",
    "actions",
    "allocations",
    "deployment",
    "deployments",
    "dispatch",
    "dispatch/payload",
    "evaluate",
    "evaluations",
    "periodic/force",
    "plan",
    "revert",
    "scale",
    "services",
    "stable",
    "submission",
    "summary",
    "tag",
    "versions",
)

# C0 controls, DEL and C1 controls; U+2028/U+2029 break lines in many viewers too.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def url_path_problem(value: str) -> str | None:
    """Why ``value`` cannot be one path segment of a Nomad URL, or ``None``.

    Nomad decodes the path before routing, so an escaped ``/`` is a ``/``
    again there: the segments are checked as Nomad will see them.
    """
    if value == "":
        return "it is empty"
    segments = value.split("/")
    if any(s in ("", ".", "..") for s in segments):
        return (
            "it has an empty, '.' or '..' path segment, so Nomad's HTTP router would "
            "clean it into the URL of another resource"
        )
    for sub in JOB_SUB_RESOURCES:
        if value.endswith("/" + sub):
            return (
                f"it ends in '/{sub}', so Nomad's HTTP router would read it as the "
                f"'{sub}' endpoint of job {value[: -len(sub) - 1]!r}"
            )
    return None


def job_id_problem(job_id: str) -> str | None:
    """Why the reconciler refuses ``job_id`` (Nomad's text where Nomad refuses it too)."""
    if " " in job_id:
        return "Job ID contains a space"
    if "\x00" in job_id:
        return "Job ID contains a null character"
    control = _CONTROL.search(job_id)
    if control is not None:
        return (
            f"Job ID contains a control character (U+{ord(control.group()):04X}), "
            "which would forge log lines and terminal output"
        )
    problem = url_path_problem(job_id)
    if problem is not None:
        return f"Job ID {job_id!r} cannot be addressed in a Nomad URL: {problem}"
    return None
