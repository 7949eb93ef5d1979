"""Replays a recorded Nomad 1.0.18 transcript (tests/golden/api/*.jsonl) against the fake.

Compares status codes, content types, Nomad headers, error texts and JSON
bodies key for key.  Values that differ by nature between two clusters
(IDs, indexes, times) are compared by shape, and tracked: a recorded ID or
index seen again later must map to the same fake value, and indexes must
move in the same direction as in the recording (``JobModifyIndex`` grows
when it grew there, stays when it stayed).  Polling steps wait (bounded)
until the fake reaches the recorded state.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# IDs and secrets: compared by presence, then mapped recorded -> fake for later requests.
ID_KEYS = {"ID", "EvalID", "DeploymentID", "BlockedEval", "AccessorID", "SecretID", "NomadTokenID", "FollowupEvalID"}
# Raft indexes: compared by type, and by direction of change between observations.
INDEX_KEYS = {
    "CreateIndex", "ModifyIndex", "JobModifyIndex", "EvalCreateIndex", "Index", "JobCreateIndex",
    "JobSpecModifyIndex", "DeploymentModifyIndex", "SnapshotIndex",
}
# Wall-clock values and per-node details: only null-ness and type are compared.
TIME_KEYS = {
    "SubmitTime", "CreateTime", "ModifyTime", "Time", "Timestamp", "RequireProgressBy", "StartedAt",
    "FinishedAt", "LastRestart", "Hash", "NodeID", "NodeName", "AllocationTime",
}
# Sub-trees whose content is per-client detail the fake does not reproduce.
OPAQUE_KEYS = {"TaskStates", "ScoreMetaData", "Scores", "Metrics"}
NOMAD_HEADERS = ("X-Nomad-KnownLeader", "X-Nomad-LastContact")


@dataclass
class Exchange:
    number: int
    step: str
    request: dict[str, Any]
    response: dict[str, Any]
    t: float
    elapsed: float
    poll: int | None

    @property
    def endpoint(self) -> str:
        path = self.request["path"]
        path = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", ":uuid", path)
        return f"{self.request['method']} {path}"


def load(path: Path) -> list[Exchange]:
    out = []
    for number, line in enumerate(path.read_text().splitlines()):
        raw = json.loads(line)
        out.append(Exchange(number, raw["step"], raw["request"], raw["response"], raw["t"], raw["elapsed_s"], raw.get("poll")))
    return out


@dataclass
class Outcome:
    status: int
    headers: dict[str, str]
    body: Any
    elapsed: float


@dataclass
class Replayer:
    address: str
    ids: dict[str, str] = field(default_factory=dict)
    indexes: dict[int, int] = field(default_factory=dict)
    last_seen: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    # --- value translation -------------------------------------------------------------
    def map_index(self, recorded: int) -> int:
        if recorded in self.indexes:
            return self.indexes[recorded]
        # Derived indexes the recorder made up: one below, or 1000 above, a known one.
        if recorded + 1 in self.indexes:
            return self.indexes[recorded + 1] - 1
        if recorded - 1 in self.indexes:
            return self.indexes[recorded - 1] + 1
        if recorded - 1000 in self.indexes:
            return self.indexes[recorded - 1000] + 1000
        return recorded

    def translate(self, value: Any, *, key: str = "") -> Any:
        if isinstance(value, str):
            for rec, act in self.ids.items():
                value = value.replace(rec, act)
            return value
        if isinstance(value, dict):
            return {k: self.translate(v, key=k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.translate(v, key=key) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and key in INDEX_KEYS:
            return self.map_index(value)
        return value

    def translate_query(self, query: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (query or {}).items():
            if key == "index" and isinstance(value, str) and value.isdigit() and int(value) < 10**8:
                value = str(self.map_index(int(value)))
            out[key] = self.translate(value)
        return out

    # --- sending ----------------------------------------------------------------------
    def send(self, ex: Exchange, client: httpx.Client) -> Outcome:
        req = ex.request
        headers = {k: self.translate(v) for k, v in (req.get("headers") or {}).items()}
        body = req.get("body")
        content: bytes | None = None
        if isinstance(body, str):
            content = body.encode()
        elif body is not None:
            content = json.dumps(self.translate(body)).encode()
        started = time.monotonic()
        resp = client.request(
            req["method"], self.translate(req["path"]), params=self.translate_query(req.get("query")),
            content=content, headers=headers, timeout=60,
        )
        elapsed = time.monotonic() - started
        ctype = resp.headers.get("content-type", "")
        parsed: Any = resp.json() if ctype.startswith("application/json") and resp.content else resp.text
        return Outcome(resp.status_code, dict(resp.headers), parsed, elapsed)

    # --- comparing --------------------------------------------------------------------
    def compare(self, ex: Exchange, got: Outcome, *, commit: bool) -> list[str]:
        """Mismatches between the recording and the fake's answer ([] when faithful)."""
        problems: list[str] = []
        rec = ex.response
        if rec["status"] != got.status:
            return [f"status {got.status} != recorded {rec['status']} (body {str(got.body)[:300]!r})"]
        rec_headers = rec.get("headers") or {}
        got_headers = {k.lower(): v for k, v in got.headers.items()}
        for name in ("Content-Type", "X-Nomad-Index", *NOMAD_HEADERS):
            if (name in rec_headers) != (name.lower() in got_headers):
                problems.append(f"header {name}: recorded {'present' if name in rec_headers else 'absent'}")
            elif name in rec_headers and name != "X-Nomad-Index" and rec_headers[name] != got_headers[name.lower()]:
                problems.append(f"header {name}: {got_headers[name.lower()]!r} != {rec_headers[name]!r}")
        pairs: list[tuple[str, int, int]] = []
        if "X-Nomad-Index" in rec_headers and "x-nomad-index" in got_headers:
            pairs.append(("header", int(rec_headers["X-Nomad-Index"]), int(got_headers["x-nomad-index"])))
        rec_body = rec["body"]
        if ex.endpoint == "GET /v1/jobs" and isinstance(rec_body, list):
            # The recording agent also ran jobs of other scenarios ("web", ...): only ours count.
            rec_body = [j for j in rec_body if j["ID"].startswith("rec-")]
        if isinstance(rec_body, str):
            expected = re.sub(r"\b\d{2,}\b", lambda m: str(self.map_index(int(m.group()))), rec_body)
            if got.body != expected:
                problems.append(f"text body {got.body!r} != recorded {expected!r}")
        else:
            ids: dict[str, str] = {}
            self._compare(rec_body, got.body, "$", problems, ids, pairs, ex)
            if not problems and commit:
                self.ids.update(ids)
        if not problems and commit:
            problems += self._relations(ex, pairs)
        return problems

    def _relations(self, ex: Exchange, pairs: list[tuple[str, int, int]]) -> list[str]:
        problems = []
        for where, rec_value, got_value in pairs:
            self.indexes.setdefault(rec_value, got_value)
            key = (ex.endpoint, where)
            if key in self.last_seen:
                prev_rec, prev_got = self.last_seen[key]
                sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
                if sign(rec_value - prev_rec) != sign(got_value - prev_got):
                    problems.append(
                        f"{where}: recorded index moved {prev_rec}->{rec_value}, fake moved {prev_got}->{got_value}"
                    )
            self.last_seen[key] = (rec_value, got_value)
        return problems

    def _compare(self, rec: Any, got: Any, path: str, problems: list[str], ids: dict[str, str],
                 pairs: list[tuple[str, int, int]], ex: Exchange) -> None:
        key = path.rsplit(".", 1)[-1]
        if key in OPAQUE_KEYS:
            if (rec is None) != (got is None):
                problems.append(f"{path}: null-ness differs")
            return
        if key in TIME_KEYS:
            if (rec is None) != (got is None) or (rec is not None and type(rec) is not type(got)):
                problems.append(f"{path}: {got!r} does not have the shape of {rec!r}")
            return
        if key in ID_KEYS and (isinstance(rec, str) or isinstance(got, str)):
            if not isinstance(got, str) or bool(rec) != bool(got):
                problems.append(f"{path}: {got!r} does not have the shape of {rec!r}")
            elif rec:
                ids[rec] = got
            return
        if key in INDEX_KEYS and isinstance(rec, int) and not isinstance(rec, bool):
            if not isinstance(got, int) or isinstance(got, bool):
                problems.append(f"{path}: {got!r} is not an index")
            elif (rec == 0) != (got == 0):
                problems.append(f"{path}: zero-ness differs ({got} vs recorded {rec})")
            else:
                pairs.append((path, rec, got))
            return
        if key == "PlacedCanaries":
            if (rec is None) != (got is None) or len(rec or []) != len(got or []):
                problems.append(f"{path}: {got!r} vs recorded {rec!r}")
            return
        if isinstance(rec, dict):
            if not isinstance(got, dict):
                problems.append(f"{path}: expected an object, got {got!r}"[:300])
                return
            if set(rec) != set(got):
                problems.append(f"{path}: keys missing {sorted(set(rec) - set(got))}, extra {sorted(set(got) - set(rec))}")
            for k in rec:
                if k in got:
                    self._compare(rec[k], got[k], f"{path}.{k}", problems, ids, pairs, ex)
            return
        if isinstance(rec, list):
            if not isinstance(got, list) or len(rec) != len(got):
                problems.append(f"{path}: list of {len(got) if isinstance(got, list) else got!r} != recorded {len(rec)}"[:300])
                return
            rec_items, got_items = _ordered(rec), _ordered(got)
            for i, (r, g) in enumerate(zip(rec_items, got_items, strict=True)):
                self._compare(r, g, f"{path}[{i}]", problems, ids, pairs, ex)
            return
        if rec != got:
            problems.append(f"{path}: {got!r} != recorded {rec!r}")


def _ordered(items: list[Any]) -> list[Any]:
    """Allocation, deployment and evaluation lists have no order a replay can reproduce: sort them by stable content."""
    if items and all(isinstance(i, dict) and "ClientStatus" in i for i in items):
        return sorted(items, key=lambda a: (a["JobVersion"], a["ClientStatus"], a["DesiredStatus"], a["Name"]))
    if items and all(isinstance(i, dict) and "StatusDescription" in i and "JobVersion" in i for i in items):
        return sorted(items, key=lambda d: (d["JobVersion"], d["Status"]))
    if items and all(isinstance(i, dict) and "TriggeredBy" in i for i in items):
        # Evaluation lists are ordered by random IDs: their order is checked in tests/fake.
        return sorted(items, key=lambda e: (e["JobID"], e["TriggeredBy"], e["Status"], e["CreateIndex"]))
    if items and all(isinstance(i, dict) and "JobSummary" in i for i in items):
        return sorted(items, key=lambda j: (j.get("Namespace", ""), j["ID"]))
    return items


class StreamReader:
    """Reads ``/v1/event/stream`` NDJSON in a thread, keeping raw lines."""

    def __init__(self, client: httpx.Client, path: str, params: dict[str, Any]) -> None:
        self.lines: list[bytes] = []
        self.status = 0
        self.content_type = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(client, path, params), daemon=True)
        self._ready = threading.Event()

    def start(self) -> StreamReader:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self, client: httpx.Client, path: str, params: dict[str, Any]) -> None:
        with client.stream("GET", path, params=params, timeout=httpx.Timeout(30, read=30)) as resp:
            self.status = resp.status_code
            self.content_type = resp.headers.get("content-type", "")
            self._ready.set()
            for line in resp.iter_lines():
                self.lines.append(line.encode())
                if self._stop.is_set():
                    break

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=40)
