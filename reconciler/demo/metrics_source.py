"""Where the demo daemon's canary analysis gets its numbers: a real Prometheus, or the demo's own API.

Responsible for starting, and always stopping, the source the daemon's
``--prometheus-url`` points at: the ``prometheus`` binary when it is installed
(a scratch configuration and TSDB under the demo's working directory, scraping
the demo's traffic exporter every second, removed when the demo stops,
Ctrl-C included), or, without it (or with ``--prometheus builtin``), the
demo's built-in query API computed from the exporter's counters
(``builtin_prometheus``).  Either way the narration says which one it is.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.demo.builtin_prometheus import SUPPORTED, serving_builtin_prometheus
from reconciler.demo.traffic import TrafficExporter
from reconciler.errors import ConfigError, PrometheusError, ReconcilerError
from reconciler.prometheus import PrometheusClient, PrometheusConfig

MODES = ("auto", "real", "builtin")
SCRAPE_JOB = "demo-app"


@dataclass(frozen=True)
class MetricsSource:
    url: str  # the Prometheus HTTP API the daemon queries
    real: bool
    description: str


def find_prometheus() -> str | None:
    found = shutil.which("prometheus")
    if found is None and Path("/usr/bin/prometheus").is_file():
        found = "/usr/bin/prometheus"  # Debian's package, when /usr/bin is not on PATH
    return found


@contextmanager
def metrics_source(
    mode: str, exporter: TrafficExporter, target: str, workdir: Path, *, timeout_s: float
) -> Iterator[MetricsSource]:
    """The source for ``mode`` (one of ``MODES``), serving until the block ends."""
    binary = find_prometheus() if mode != "builtin" else None
    if mode == "real" and binary is None:
        raise ConfigError("--prometheus real: no prometheus binary on PATH (Debian package 'prometheus')")
    if binary is None:
        with serving_builtin_prometheus(exporter, time.time) as url:
            why = "asked for" if mode == "builtin" else "no prometheus binary is installed"
            yield MetricsSource(url, False, (
                f"the demo's built-in Prometheus query API at {url} ({why}): it answers {SUPPORTED}, "
                f"from the counters of the demo's exporter at http://{target}/metrics"))  # fmt: skip
        return
    with running_prometheus(binary, target, workdir / "prometheus", timeout_s=timeout_s) as (url, version):
        yield MetricsSource(url, True, (
            f"a real Prometheus {version} ({binary}) at {url}, scraping the demo's exporter "
            f"http://{target}/metrics every second"))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_prometheus(binary: str, target: str, home: Path, *, timeout_s: float) -> Iterator[tuple[str, str]]:
    """Run ``binary`` scraping ``target`` with its data in ``home`` (removed afterwards); yields (url, version)."""
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    version = version.split()[2] if version.startswith("prometheus, version ") else "(version unknown)"
    home.mkdir(parents=True, exist_ok=True)
    config = {  # JSON is YAML: no YAML writer needed
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": SCRAPE_JOB, "static_configs": [{"targets": [target]}]}],
    }
    (home / "prometheus.yml").write_text(json.dumps(config, indent=2))
    url = f"http://127.0.0.1:{_free_port()}"
    log_path = home / "prometheus.log"
    try:
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [binary, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
                 f"--web.listen-address={url.removeprefix('http://')}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        try:
            _wait_scraping(process, url, log_path, timeout_s=timeout_s)
            yield url, version
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _wait_scraping(process: subprocess.Popen[bytes], url: str, log_path: Path, *, timeout_s: float) -> None:
    """Until Prometheus has scraped the exporter once (bounded by ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise ReconcilerError(f"demo: prometheus exited with status {process.returncode}: "
                                  f"{log_path.read_text()[-2000:]}")  # fmt: skip
        if asyncio.run(_scraped(url)):
            return
        if time.monotonic() > deadline:
            raise ReconcilerError(f"demo: prometheus did not scrape the demo's exporter in {timeout_s:.0f}s")
        time.sleep(0.2)


async def _scraped(url: str) -> bool:
    """Prometheus answers, and has scraped the exporter (asked with the project's own client)."""
    async with PrometheusClient(PrometheusConfig(url=url, timeout=2.0)) as client:
        try:
            return 1.0 in await client.query(f'up{{job="{SCRAPE_JOB}"}}')
        except PrometheusError:
            return False  # not listening yet
