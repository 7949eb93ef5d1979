"""Canary analysis fixtures shared by the daemon's and the one-shot commands' tests.

- ``TEMPLATE``: ``.reconciler/analysis/http.hcl`` with one check, ``http/error-rate``:
  the max of the canaries' ``canary_error_ratio`` gauge (driven through the
  ``MetricsExporter``) below 0.05, every 2s, 3 times.
- ``canary_job(release)``: ``web`` (HCL), opting in with Meta ``gitops.analysis = "http"``;
  one canary, ``auto_revert``.
- ``BACKGROUND_TEMPLATE`` and ``rolling_job(release)``: the same check on ``{{alloc_ids}}``,
  and ``web`` rolling out without canaries (3 allocations one at a time, ``auto_revert``),
  opting in: background analysis.
- ``running_monitoring(workdir)``: a loopback exporter and a real Prometheus scraping it.
- ``placed_canary(fake, job_id, after)``: the canary of the deployment after ``after``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.exporter import MetricsExporter, running_exporter
from tests.support.prometheus import Prometheus, running_prometheus
from tests.support.waiting import wait_until

TEMPLATE = """\
analysis "http" {
  check "error-rate" {
    query    = "max(canary_error_ratio{nomad_job=\\"{{job}}\\", group=\\"{{group}}\\", alloc_id=~\\"{{canary_alloc_ids}}\\"})"
    success  = "< 0.05"
    interval = "2s"
    count    = 3
  }
}
"""


def canary_job(
    release: str, *, name: str = "web", analysis: str = "http", auto_promote_meta: bool = False
) -> str:
    """A service job with one canary and ``auto_revert`` that opts into ``analysis``."""
    extra = '\n    "gitops.auto-promote" = "true"' if auto_promote_meta else ""
    return f"""job "{name}" {{
  datacenters = ["dc1"]
  meta = {{
    release           = "{release}"
    "gitops.analysis" = "{analysis}"{extra}
  }}
  update {{
    max_parallel      = 1
    canary            = 1
    auto_revert       = true
    min_healthy_time  = "1s"
    healthy_deadline  = "30s"
    progress_deadline = "60s"
  }}
  group "app" {{
    count = 2
    task "main" {{
      driver = "exec"
      config {{
        command = "/bin/sleep"
        args    = ["3600"]
      }}
    }}
  }}
}}
"""


BACKGROUND_TEMPLATE = TEMPLATE.replace("{{canary_alloc_ids}}", "{{alloc_ids}}")


def rolling_job(release: str, *, name: str = "web", analysis: str = "http") -> str:
    """A service job rolling out without canaries, one allocation at a time, slowly enough
    (``min_healthy_time``) for a background check to judge it mid-update; ``auto_revert``."""
    return f"""job "{name}" {{
  datacenters = ["dc1"]
  meta = {{
    release           = "{release}"
    "gitops.analysis" = "{analysis}"
  }}
  update {{
    max_parallel      = 1
    auto_revert       = true
    min_healthy_time  = "8s"
    healthy_deadline  = "60s"
    progress_deadline = "120s"
  }}
  group "app" {{
    count = 3
    task "main" {{
      driver = "exec"
      config {{
        command = "/bin/sleep"
        args    = ["3600"]
      }}
    }}
  }}
}}
"""


@contextmanager
def running_monitoring(workdir: Path) -> Iterator[tuple[Prometheus, MetricsExporter]]:
    """A loopback exporter the test drives, and a real Prometheus scraping it every second."""
    with running_exporter() as (target, exporter), running_prometheus(target, workdir) as prom:
        yield prom, exporter


def placed_canary(fake: FakeNomad, job_id: str, *, after: str | None, timeout: float = 60) -> str:
    """The canary allocation of ``job_id``'s deployment (other than ``after``), once placed."""

    def placed() -> str | None:
        dep = fake.latest_deployment(job_id) or {}
        groups = dep.get("TaskGroups") or {}
        ids = next((g.get("PlacedCanaries") for g in groups.values() if g.get("PlacedCanaries")), None)
        return ids[0] if ids and dep.get("ID") != after else None

    found: str = wait_until(placed, timeout=timeout, what=f"the canary of {job_id}")
    return found
