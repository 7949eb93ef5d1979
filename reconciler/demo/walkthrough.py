"""``nomad-reconciler demo``: the whole loop on one machine, no cluster needed.

Responsible for the walkthrough only: it starts the project's Nomad fake (or
uses a real Nomad the user named), copies the jobs directory into a scratch
git repository (the user's files are never touched), runs the real daemon on
it as a subprocess, makes one commit that changes a canary-guarded job, and
narrates the rollout from Nomad's point of view: registered, canary placed,
awaiting promotion, promoted by the demo's promotion policy, successful.
Then it says where to look and what to try, and keeps running until Ctrl-C.

It must not: write into the user's jobs directory, or create anything on a
real Nomad except through the daemon (namespaces are created only on the
embedded fake).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from reconciler.config.connection import NomadConfig
from reconciler.demo.analysis_walkthrough import AnalysisDemo, analysis_stage
from reconciler.demo.support import (
    CHANGE_KEY,
    DaemonLog,
    Narrator,
    NomadView,
    compute_changed_source,
    describe_deployment,
    git,
    wait_until,
)
from reconciler.deployment import Deployment
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.model import DesiredJob, Snapshot

# The demo's simulated client node runs every driver the examples use (the
# recorded dev agent had no docker), so every example job gets a deployment.
DEMO_DRIVERS = ("exec", "raw_exec", "docker", "podman", "java", "qemu", "container", "mock_driver")


@dataclass(frozen=True)
class DemoOptions:
    jobs_dir: Path
    nomad: NomadConfig | None  # the user's Nomad; None: start the embedded fake
    nomad_version: str = "1.0.18"  # the release the embedded fake imitates
    listen: str = "127.0.0.1:9464"
    workdir: Path | None = None
    promote_after: str = "5s"
    timeout_s: float = 180.0
    exit_after_walkthrough: bool = False
    prometheus: str = "auto"  # canary analysis against: auto, real (the binary), builtin


def find_canary_job(snapshot: Snapshot) -> DesiredJob | None:
    """The first declared service job whose groups roll out with canaries."""
    for job in snapshot.jobs:
        for group in job.canonical.get("TaskGroups") or []:
            if ((group.get("Update") or {}).get("Canary") or 0) > 0:
                return job
    return None


def prepare_workspace(jobs_dir: Path, workdir: Path) -> Path:
    """A git repository holding a copy of ``jobs_dir``; returns the jobs directory in it."""
    repo = workdir / "repo"
    shutil.copytree(jobs_dir, repo / "jobs", symlinks=True, ignore=shutil.ignore_patterns(".git"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Jobs as declared")
    return repo / "jobs"


@contextlib.contextmanager
def nomad_endpoint(options: DemoOptions, narrator: Narrator, snapshot: Snapshot) -> Iterator[str]:
    """The Nomad to use: the user's, or an embedded fake with the jobs' namespaces."""
    if options.nomad is not None:
        narrator.step(f"Using the Nomad at {options.nomad.display_address}")
        yield options.nomad.address
        return
    from reconciler.testing.fake_nomad import FakeNomad

    with FakeNomad(drivers=DEMO_DRIVERS, version=options.nomad_version) as fake:
        narrator.step(
            f"Started the embedded Nomad fake (behaves like Nomad {options.nomad_version}) at {fake.address}"
        )
        narrator.say(f"its one client node has the drivers {', '.join(DEMO_DRIVERS)}")
        namespaces = sorted({j.namespace for j in snapshot.jobs} - {"default"})
        for name in namespaces:
            httpx.put(f"{fake.address}/v1/namespace", json={"Name": name}).raise_for_status()
        if namespaces:
            narrator.say(f"created namespaces the jobs use: {', '.join(namespaces)}")
        yield fake.address


def run_demo(options: DemoOptions, *, out: TextIO = sys.stdout) -> int:
    narrator = Narrator(out)
    jobs_dir = options.jobs_dir.resolve()
    if not jobs_dir.is_dir():
        raise ConfigError(f"{options.jobs_dir}: not a directory")
    snapshot = load_directory(jobs_dir, inputs=VariableInputs(env=os.environ))
    narrator.step(f"Loaded {len(snapshot.jobs)} jobs from {options.jobs_dir}")
    for diag in snapshot.errors:
        narrator.say(f"skipped: {diag.describe()}")

    # A scratch directory of our own is removed when the demo ends, however it ends
    # (Ctrl-C, SIGTERM, an error); a --workdir the user chose is theirs to keep.
    owned = options.workdir is None
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="nomad-reconciler-demo-"))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        workspace = prepare_workspace(jobs_dir, workdir)
        removed = " (removed when the demo stops)" if owned else ""
        narrator.say(f"working copy (a git repository; your {options.jobs_dir} is not touched): "
                     f"{workspace}{removed}")  # fmt: skip
        with contextlib.ExitStack() as stack:
            address = stack.enter_context(nomad_endpoint(options, narrator, snapshot))
            token = options.nomad.token if options.nomad is not None else None
            analysis = stack.enter_context(analysis_stage(
                options.prometheus, narrator, find_canary_job(snapshot), workspace, workdir,
                nomad_address=address, token=token, timeout_s=options.timeout_s,
            ))  # fmt: skip
            view = NomadView(address, token)
            daemon = _start_daemon(options, workspace, address, analysis)
            assert daemon.stderr is not None
            log = DaemonLog(daemon.stderr)
            try:
                _walkthrough(options, narrator, view, snapshot, workspace, address, (daemon, log), analysis)
                if options.exit_after_walkthrough:
                    return 0
                narrator.step("The daemon keeps running; press Ctrl-C to stop the demo.")
                with contextlib.suppress(KeyboardInterrupt):
                    daemon.wait()
                return 0
            finally:
                view.close()
                _stop_daemon(daemon)
                log.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the demo like Ctrl-C does: through every cleanup on the way out."""
    raise KeyboardInterrupt


def _start_daemon(
    options: DemoOptions, workspace: Path, address: str, analysis: AnalysisDemo | None
) -> subprocess.Popen[bytes]:
    # The daemon reads the same environment as the demo, so the same connection settings;
    # only the address is given, and with the embedded fake NOMAD_ADDR must not point elsewhere.
    env = {k: v for k, v in os.environ.items() if not (k == "NOMAD_ADDR" and options.nomad is None)}
    cmd = [
        sys.executable, "-m", "reconciler", "daemon", str(workspace),
        "--address", address,
        "--listen", options.listen,
        "--promote-after", options.promote_after,
        "--resync-interval", "60s",
        "--log-format", "text",  # the demo narrates from some of its lines
    ]
    if analysis is not None:
        cmd += ["--prometheus-url", analysis.source.url]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)


def _stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def _walkthrough(
    options: DemoOptions,
    narrator: Narrator,
    view: NomadView,
    snapshot: Snapshot,
    workspace: Path,
    address: str,
    running: tuple[subprocess.Popen[bytes], DaemonLog],
    analysis: AnalysisDemo | None,
) -> None:
    metrics_url = f"http://{options.listen}"
    daemon, log = running

    def daemon_alive() -> None:
        if daemon.poll() is not None:
            raise ReconcilerError(f"demo: the daemon exited with status {daemon.returncode}")

    def ready() -> bool:
        daemon_alive()
        try:
            return httpx.get(f"{metrics_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    analysed = f" --prometheus-url {analysis.source.url}" if analysis is not None else ""
    narrator.step(f"Started the daemon: nomad-reconciler daemon {workspace} --promote-after "
                  f"{options.promote_after}{analysed}")  # fmt: skip
    wait_until(ready, timeout_s=options.timeout_s, what="the daemon's first full pass")
    narrator.say(f"status page: {metrics_url}/   (open it in a browser: the rollout below shows up live)")
    registered = {(j.get("Namespace"), j.get("ID")) for j in view.jobs()}
    synced = [j for j in snapshot.jobs if j.key in registered]
    narrator.step(f"First pass done: {len(synced)} of {len(snapshot.jobs)} declared jobs are registered in Nomad")
    for job in synced:
        narrator.say(f"{job.namespace}/{job.job_id}  ({job.path})")

    canary = find_canary_job(snapshot)
    if canary is None:
        narrator.step("No job in this directory rolls out with canaries: skipping the canary walkthrough.")
    else:
        _canary_walkthrough(options, narrator, view, canary, workspace, daemon_alive)
        if analysis is not None:
            analysis.run(narrator, view, workspace, log, daemon_alive=daemon_alive,
                         daemon_url=metrics_url, timeout_s=options.timeout_s)  # fmt: skip

    narrator.step("Where to look")
    narrator.say(f"status page: {metrics_url}/   (JSON: {metrics_url}/api/v1/status)")
    narrator.say(f"metrics:   {metrics_url}/metrics   (health: {metrics_url}/healthz, {metrics_url}/readyz)")
    narrator.say(f"Nomad API: {address}/v1/jobs?namespace=*")
    if analysis is not None:
        narrator.say(f"Prometheus API: {analysis.source.url}/api/v1/query"
                     f"{'   (UI: ' + analysis.source.url + '/graph)' if analysis.source.real else ''}")
    narrator.say(f"status:    nomad-reconciler status {workspace} --address {address}")
    if options.exit_after_walkthrough:
        return  # nothing is left running to try things on
    narrator.step("What to try next")
    narrator.say(f"edit a job in {workspace} and commit it: the daemon registers it within a second")
    narrator.say("break a canary: set a task's command to /bin/false, commit, and watch the rollout "
                 "fail, Nomad revert it, and the reconciler hold that commit instead of looping")
    example = canary or (snapshot.jobs[0] if snapshot.jobs else None)
    if example is not None:
        group = (example.canonical.get("TaskGroups") or [{}])[0].get("Name", "group")
        narrator.say("scale a job by hand, as if someone ran `nomad job scale`, and watch it healed:")
        narrator.say(f"  curl -X POST '{address}/v1/job/{example.job_id}/scale?namespace={example.namespace}' "
                     f"-d '{{\"Count\": 5, \"Target\": {{\"Group\": \"{group}\"}}}}'")


def _canary_walkthrough(
    options: DemoOptions,
    narrator: Narrator,
    view: NomadView,
    job: DesiredJob,
    workspace: Path,
    daemon_alive: Callable[[], None],
) -> None:
    before = view.job(job) or {}
    version_before = int(before.get("Version", -1))

    def first_deployment_over() -> bool:
        daemon_alive()
        dep = view.latest_deployment(job)
        return dep is None or not dep.active

    wait_until(first_deployment_over, timeout_s=options.timeout_s, what=f"{job.job_id}'s first deployment")

    path = workspace / job.path
    path.write_text(compute_changed_source(path.read_text(), source_format=job.source_format, revision=2))
    repo = workspace.parent
    git(repo, "commit", "-q", "-am", f"{job.job_id}: change Meta {CHANGE_KEY}")
    commit = git(repo, "rev-parse", "--short", "HEAD")
    narrator.step(f"Committed {commit}: a Meta change to {job.namespace}/{job.job_id} ({job.path}), "
                  "which its update block rolls out with a canary")

    def new_deployment() -> Deployment | None:
        daemon_alive()
        dep = view.latest_deployment(job)
        if dep and (dep.job_version if dep.job_version is not None else -1) > version_before:
            return dep
        return None

    deployment: Deployment = wait_until(new_deployment, timeout_s=options.timeout_s, what="the new deployment")
    narrator.say(f"deployment {deployment.id[:8]} for job version {deployment.job_version}")
    last = ""
    deadline = time.monotonic() + options.timeout_s
    while True:
        daemon_alive()
        deployment = view.deployment(deployment.id) or deployment
        text = describe_deployment(deployment)
        if text != last:
            narrator.say(text)
            last = text
        if not deployment.active:
            break
        if time.monotonic() > deadline:
            raise ReconcilerError(f"demo: the rollout of {job.job_id} did not finish in {options.timeout_s:.0f}s")
        time.sleep(0.25)
    if deployment.successful:
        narrator.step(f"Rollout of {job.job_id} successful: the daemon promoted the canary once it had "
                      f"been healthy for {options.promote_after}")
    else:
        raise ReconcilerError(f"demo: the rollout of {job.job_id} ended {deployment.status_text}: "
                              f"{deployment.description}")
