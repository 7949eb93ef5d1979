"""Records ``api/16-job-types-and-evaluations.jsonl`` from a real Nomad agent.

Not a test: run it by hand against a fresh ``nomad agent -dev`` (nothing else
registered, so that the evaluation list holds only this scenario's), e.g.

    nomad agent -dev -bind 127.0.0.1 -config ports.hcl &      # http on 24646
    python tests/golden/record_job_types.py http://127.0.0.1:24646 > tests/golden/api/16-job-types-and-evaluations.jsonl

It writes one exchange per line in the format of the other recordings
(``step``, ``request``, ``response``, ``t``, ``elapsed_s``, ``poll`` on polling
steps, where only polls whose answer changed are kept).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

SECOND = 1_000_000_000
HEADERS = ("X-Nomad-Index", "X-Nomad-KnownLeader", "X-Nomad-LastContact", "Content-Type")


class Recorder:
    def __init__(self, address: str) -> None:
        self.client = httpx.Client(base_url=address, timeout=30)
        self.start = time.monotonic()

    def exchange(self, step: str, method: str, path: str, *, query: dict[str, Any] | None = None,
                 body: Any = None, poll: int | None = None, write: bool = True) -> httpx.Response:
        t = time.monotonic() - self.start
        response = self.client.request(method, path, params=query, json=body)
        elapsed = time.monotonic() - self.start - t
        if write:
            self.write(step, method, path, query, body, response, t, elapsed, poll)
        return response

    @staticmethod
    def write(step: str, method: str, path: str, query: Any, body: Any, response: httpx.Response,
              t: float, elapsed: float, poll: int | None) -> None:
        content_type = response.headers.get("Content-Type", "")
        record: dict[str, Any] = {
            "step": step,
            "request": {"method": method, "path": path, "query": query, "body": body},
            "response": {
                "status": response.status_code,
                "headers": {h: response.headers[h] for h in HEADERS if h in response.headers},
                "body": response.json() if "json" in content_type else response.text,
            },
            "t": round(t, 3), "elapsed_s": round(elapsed, 3),
        }
        if poll is not None:
            record["poll"] = poll
        print(json.dumps(record), flush=True)

    def poll(self, step: str, path: str, done: Callable[[Any], bool], *, timeout: float = 60.0,
             state: Callable[[Any], Any] = lambda body: body) -> None:
        """GET ``path`` until ``done``; record the first answer and every changed one."""
        deadline = time.monotonic() + timeout
        last: Any = object()
        number = 0
        while True:
            number += 1
            t = time.monotonic() - self.start
            response = self.client.get(path)
            elapsed = time.monotonic() - self.start - t
            body = response.json()
            if state(body) != last:
                self.write(step, "GET", path, None, None, response, t, elapsed, number)
                last = state(body)
            if done(body):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: {step}")
            time.sleep(0.2)


def job(job_id: str, job_type: str, *, group_update: Any = None, **extra: Any) -> dict[str, Any]:
    group: dict[str, Any] = {"Name": "app", "Count": 1, "Tasks": [{
        "Name": "main", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["3600"]},
        "Resources": {"CPU": 20, "MemoryMB": 16},
    }]}
    if group_update is not None:
        group["Update"] = group_update
    return {"Job": {"ID": job_id, "Name": job_id, "Type": job_type, "Datacenters": ["dc1"],
                    "TaskGroups": [group], **extra}}


def main(address: str) -> None:
    rec = Recorder(address)
    fast = {"MinHealthyTime": 1 * SECOND, "HealthyDeadline": 20 * SECOND, "ProgressDeadline": 30 * SECOND}

    # Update blocks by job type; a system job's status from its registration on.
    system_hcl = ('job "rec-16-parse" {\n  datacenters = ["dc1"]\n  type = "system"\n  group "app" {\n'
                  '    task "main" {\n      driver = "raw_exec"\n      config { command = "/bin/sleep" }\n'
                  '    }\n  }\n}\n')
    rec.exchange("parse a system job without an update block: Update null in the job and its group", "POST",
                 "/v1/jobs/parse", body={"JobHCL": system_hcl, "Canonicalize": True})
    rec.exchange("register a system job without an update block", "PUT", "/v1/jobs", body=job("rec-16-system", "system"))
    rec.exchange("read it back at once: Status running from the registration, the group's Update null, "
                 "the job's Update all zero", "GET", "/v1/job/rec-16-system")
    rec.exchange("register a system job whose group has an update block", "PUT", "/v1/jobs",
                 body=job("rec-16-system-update", "system", group_update={"MaxParallel": 1, **fast}))
    rec.exchange("read it back: a system group keeps its update block, defaults filled", "GET",
                 "/v1/job/rec-16-system-update")
    rec.exchange("register a batch job without an update block", "PUT", "/v1/jobs", body=job("rec-16-batch", "batch"))
    rec.exchange("read it back: the batch group's Update is null", "GET", "/v1/job/rec-16-batch")
    rec.exchange("a batch group with an update block is refused", "PUT", "/v1/jobs",
                 body=job("rec-16-batch-update", "batch", group_update={"MaxParallel": 1}))
    rec.exchange("register a service job (group update with a short min_healthy_time)", "PUT", "/v1/jobs",
                 body=job("rec-16-service", "service", group_update=fast))
    rec.poll("poll the service job's deployment until successful", "/v1/job/rec-16-service/deployment",
             lambda d: bool(d) and d["Status"] == "successful", state=lambda d: d and d["Status"])
    rec.exchange("read it back: the service group's Update has every default", "GET", "/v1/job/rec-16-service")
    rec.poll("poll the system job's summary until its allocation runs", "/v1/job/rec-16-system/summary",
             lambda s: s["Summary"]["app"]["Running"] == 1)

    # Stopping a job leaves its summary alone until the allocation's client status changes.
    rec.exchange("the service job's summary before the stop", "GET", "/v1/job/rec-16-service/summary")
    rec.exchange("stop the service job", "DELETE", "/v1/job/rec-16-service")
    rec.exchange("its summary right after the stop: same ModifyIndex", "GET", "/v1/job/rec-16-service/summary")
    rec.poll("poll the summary until the allocation completed (then ModifyIndex moves)",
             "/v1/job/rec-16-service/summary", lambda s: s["Summary"]["app"]["Complete"] == 1)
    rec.exchange("stop the system job", "DELETE", "/v1/job/rec-16-system")
    rec.exchange("the stopped system job reads dead at once", "GET", "/v1/job/rec-16-system")
    rec.poll("poll the stopped service job until dead", "/v1/job/rec-16-service", lambda j: j["Status"] == "dead",
             state=lambda j: j["Status"])

    # Evaluation lists: order and fields.
    rec.exchange("the service job's evaluations: by Status then ID, zero-valued fields left out "
                 "(no JobModifyIndex on the deployment watcher's)", "GET", "/v1/job/rec-16-service/evaluations")
    rec.exchange("all evaluations: ordered by ID in 1.0.x, zero-valued fields left out", "GET", "/v1/evaluations")

    # Parents: stop and purge write no evaluation but answer the write's index.
    periodic = {"Periodic": {"Enabled": True, "Spec": "0 3 * * *", "SpecType": "cron", "ProhibitOverlap": True}}
    rec.exchange("register a periodic parent", "PUT", "/v1/jobs", body=job("rec-16-periodic", "batch", **periodic))
    rec.exchange("stop the periodic parent: no evaluation, EvalCreateIndex is the write's index", "DELETE",
                 "/v1/job/rec-16-periodic")
    rec.exchange("purge it: the same", "DELETE", "/v1/job/rec-16-periodic", query={"purge": "true"})
    parameterized = {"ParameterizedJob": {"Payload": "optional"}}
    rec.exchange("register a parameterized parent", "PUT", "/v1/jobs",
                 body=job("rec-16-param", "batch", **parameterized))
    rec.exchange("purge the parameterized parent without stopping it first", "DELETE", "/v1/job/rec-16-param",
                 query={"purge": "true"})
    for job_id in ("rec-16-system", "rec-16-system-update", "rec-16-batch", "rec-16-service"):
        rec.exchange("clean up", "DELETE", f"/v1/job/{job_id}", query={"purge": "true"}, write=False)


if __name__ == "__main__":
    main(sys.argv[1])
