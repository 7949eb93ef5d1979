"""Generate a realistic jobs repository for benchmarks: N job files of about 3 KB.

Deterministic for a given seed.  The mix follows what a real repository holds:
mostly HCL2 services (variables, locals, update/canary, network, services with
checks, templates, env, resources), some periodic batch and system jobs,
about one in ten jobs in Nomad's JSON job specification format, and a
companion ``X.vars.hcl`` for about one in five HCL jobs.  Files are spread over
two namespaces and per-team subdirectories.

    python bench/generate_jobs.py OUT_DIR [--count 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

TEAMS = ("storefront", "payments", "search", "identity", "data", "platform", "mobile", "ml")

SERVICE = '''# {name}: {team} service, generated for benchmarks.
variable "release" {{
  type        = string
  default     = "{release}"
  description = "Build to run."
}}

variable "replicas" {{
  type    = number
  default = {count}

  validation {{
    condition     = var.replicas >= 1 && var.replicas <= 20
    error_message = "The replicas value must be between 1 and 20."
  }}
}}

variable "datacenters" {{
  type    = list(string)
  default = ["dc1", "dc2"]
}}

locals {{
  artifact = "https://artifacts.example.com/{team}/{name}-${{var.release}}.tar.gz"
  labels   = {{ team = "{team}", tier = "{tier}" }}
}}

job "{name}" {{
  datacenters = var.datacenters
  namespace   = "{namespace}"
  type        = "service"
  priority    = {priority}

  meta {{
    team    = local.labels.team
    tier    = local.labels.tier
    release = var.release
  }}

  update {{
    max_parallel      = 1
    canary            = {canary}
    auto_promote      = false
    auto_revert       = true
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
  }}

  group "app" {{
    count = var.replicas

    network {{
      port "http" {{}}
      port "metrics" {{}}
    }}

    service {{
      name = "{name}"
      port = "http"
      tags = ["{team}", "v${{var.release}}"]

      check {{
        name     = "{name}-http"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }}
    }}

    service {{
      name = "{name}-metrics"
      port = "metrics"
      tags = ["prometheus"]
    }}

    restart {{
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }}

    task "app" {{
      driver = "exec"

      artifact {{
        source = local.artifact

        options {{
          checksum = "sha256:{checksum}"
        }}
      }}

      config {{
        command = "local/bin/{name}"
        args    = ["--listen", ":${{NOMAD_PORT_http}}", "--metrics", ":${{NOMAD_PORT_metrics}}"]
      }}

      env {{
        LOG_LEVEL   = "{log_level}"
        RELEASE     = var.release
        CACHE_SIZE  = "{cache}"
        UPSTREAMS   = join(",", [for u in {upstreams} : "${{u}}.service.consul"])
      }}

      template {{
        data        = <<EOH
[server]
name    = "{name}"
alloc   = "{{{{ env "NOMAD_ALLOC_ID" }}}}"
node    = "{{{{ env "node.unique.name" }}}}"
workers = {workers}

[database]
host = "{{{{ key "config/{team}/db/host" }}}}"
pool = {pool}
EOH
        destination = "local/config.toml"
        change_mode = "signal"
        change_signal = "SIGHUP"
      }}

      resources {{
        cpu    = {cpu}
        memory = {memory}
      }}
    }}

    task "log-shipper" {{
      driver = "exec"

      lifecycle {{
        hook    = "poststart"
        sidecar = true
      }}

      config {{
        command = "/usr/local/bin/vector"
        args    = ["--config", "local/vector.toml"]
      }}

      template {{
        data        = <<EOH
[sources.app]
type    = "file"
include = ["${{NOMAD_ALLOC_DIR}}/logs/app.std*"]

[sinks.loki]
type     = "loki"
inputs   = ["app"]
endpoint = "http://loki.service.consul:3100"
labels   = {{ team = "{team}", job = "{name}" }}
EOH
        destination = "local/vector.toml"
      }}

      resources {{
        cpu    = 50
        memory = 64
      }}
    }}
  }}
}}
'''

PERIODIC = '''# {name}: {team} periodic batch job, generated for benchmarks.
job "{name}" {{
  datacenters = ["dc1"]
  namespace   = "{namespace}"
  type        = "batch"

  meta {{
    team      = "{team}"
    owner     = "{team}-oncall@example.com"
    runbook   = "https://wiki.example.com/runbooks/{team}/{name}"
    cost_code = "cc-{pool}"
  }}

  periodic {{
    cron             = "{minute} {hour} * * *"
    time_zone        = "UTC"
    prohibit_overlap = true
  }}

  group "run" {{
    task "fetch-inputs" {{
      driver = "exec"

      lifecycle {{
        hook = "prestart"
      }}

      artifact {{
        source      = "https://artifacts.example.com/{team}/inputs/{name}.tar.gz"
        destination = "${{NOMAD_ALLOC_DIR}}/data/inputs"

        options {{
          checksum = "sha256:{checksum}"
        }}
      }}

      config {{
        command = "/bin/sh"
        args    = ["-c", "ls -la ${{NOMAD_ALLOC_DIR}}/data/inputs"]
      }}

      resources {{
        cpu    = 50
        memory = 32
      }}
    }}

    reschedule {{
      attempts  = 2
      interval  = "1h"
      delay     = "5m"
      unlimited = false
    }}

    restart {{
      attempts = 1
      delay    = "30s"
      mode     = "fail"
    }}

    task "run" {{
      driver = "exec"

      config {{
        command = "/bin/sh"
        args    = ["-c", "echo {name} run for {team} && sleep {sleep}"]
      }}

      template {{
        data        = <<EOH
# generated settings for {name}
batch_size   = {workers}
output       = "s3://reports-{team}/{name}/"
notify       = "{team}-oncall@example.com"
retain_days  = 30
compression  = "zstd"
max_runtime  = "2h"
dry_run      = false
EOH
        destination = "local/settings.ini"
      }}

      env {{
        TEAM        = "{team}"
        JOB_NAME    = "{name}"
        BATCH_SIZE  = "{workers}"
        LOG_LEVEL   = "{log_level}"
      }}

      logs {{
        max_files     = 5
        max_file_size = 10
      }}

      resources {{
        cpu    = {cpu}
        memory = {memory}
      }}
    }}
  }}
}}
'''

SYSTEM = '''# {name}: {team} agent on every node, generated for benchmarks.
job "{name}" {{
  datacenters = ["dc1", "dc2"]
  namespace   = "{namespace}"
  type        = "system"

  constraint {{
    attribute = "${{attr.kernel.name}}"
    value     = "linux"
  }}

  meta {{
    team      = "{team}"
    owner     = "{team}-oncall@example.com"
    runbook   = "https://wiki.example.com/runbooks/{team}/{name}"
    cost_code = "cc-{pool}"
  }}

  update {{
    max_parallel = 1
    stagger      = "10s"
  }}

  group "agent" {{
    network {{
      port "metrics" {{
        static = {static_port}
      }}
    }}

    service {{
      name = "{name}"
      port = "metrics"
      tags = ["prometheus", "{team}"]

      check {{
        type     = "http"
        path     = "/metrics"
        interval = "30s"
        timeout  = "5s"
      }}
    }}

    task "agent" {{
      driver = "exec"

      artifact {{
        source = "https://artifacts.example.com/agents/{name}-{release}.tar.gz"

        options {{
          checksum = "sha256:{checksum}"
        }}
      }}

      config {{
        command = "local/{name}"
        args    = ["--listen", ":${{NOMAD_PORT_metrics}}", "--node", "${{node.unique.name}}"]
      }}

      template {{
        data        = <<EOH
scrape_interval: 15s
labels:
  team: {team}
  node: {{{{ env "node.unique.name" }}}}
  dc: {{{{ env "NOMAD_DC" }}}}
collectors:
  - cpu
  - meminfo
  - filesystem
  - netdev
EOH
        destination = "local/agent.yml"
      }}

      resources {{
        cpu    = {cpu}
        memory = {memory}
      }}
    }}
  }}
}}
'''

VARS = '''# Values for {name}.nomad (applied automatically).
release  = "{release}"
replicas = {count}
'''


def _params(rng: random.Random, i: int) -> dict[str, object]:
    team = TEAMS[i % len(TEAMS)]
    return {
        "team": team,
        "namespace": "platform" if team == "platform" or i % 4 == 0 else "default",
        "tier": rng.choice(("frontend", "backend", "worker")),
        "release": f"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        "count": rng.randint(1, 6),
        "canary": rng.choice((0, 1, 1, 2)),
        "priority": rng.choice((40, 50, 50, 60, 70)),
        "checksum": "".join(rng.choice("0123456789abcdef") for _ in range(64)),
        "log_level": rng.choice(("info", "warn", "debug")),
        "cache": f"{rng.randint(16, 512)}m",
        "upstreams": json.dumps(rng.sample(["db", "cache", "auth", "queue", "search"], 2)),
        "workers": rng.randint(2, 32),
        "pool": rng.randint(5, 50),
        "cpu": rng.choice((100, 200, 500, 1000)),
        "memory": rng.choice((64, 128, 256, 512, 1024)),
        "minute": rng.randint(0, 59),
        "hour": rng.randint(0, 23),
        "sleep": rng.randint(5, 300),
        "static_port": 9100 + i,
    }


def _json_job(name: str, p: dict[str, object]) -> str:
    task = {
        "Name": "app",
        "Driver": "exec",
        "Config": {"command": f"local/bin/{name}", "args": ["--listen", ":${NOMAD_PORT_http}"]},
        "Env": {"LOG_LEVEL": p["log_level"], "TEAM": p["team"], "RELEASE": p["release"]},
        "Artifacts": [{
            "GetterSource": f"https://artifacts.example.com/{p['team']}/{name}-{p['release']}.tar.gz",
            "GetterOptions": {"checksum": f"sha256:{p['checksum']}"},
        }],
        "Templates": [{
            "EmbeddedTmpl": f"workers = {p['workers']}\npool = {p['pool']}\n",
            "DestPath": "local/app.conf",
            "ChangeMode": "restart",
        }],
        "Resources": {"CPU": p["cpu"], "MemoryMB": p["memory"]},
        "KillTimeout": 10_000_000_000,
    }
    job = {
        "ID": name,
        "Name": name,
        "Namespace": p["namespace"],
        "Type": "service",
        "Priority": p["priority"],
        "Datacenters": ["dc1"],
        "Meta": {"team": p["team"], "release": p["release"]},
        "Update": {
            "MaxParallel": 1,
            "Canary": p["canary"],
            "MinHealthyTime": 10_000_000_000,
            "HealthyDeadline": 180_000_000_000,
            "AutoRevert": True,
        },
        "TaskGroups": [{
            "Name": "app",
            "Count": p["count"],
            "Networks": [{"DynamicPorts": [{"Label": "http"}]}],
            "Services": [{
                "Name": name,
                "PortLabel": "http",
                "Tags": [p["team"]],
                "Checks": [{
                    "Name": f"{name}-http", "Type": "http", "Path": "/healthz",
                    "Interval": 10_000_000_000, "Timeout": 2_000_000_000,
                }],
            }],
            "Tasks": [task],
        }],
    }
    return json.dumps({"Job": job}, indent=2) + "\n"


def generate(out: Path, *, count: int = 1000, seed: int = 1) -> list[Path]:
    """Write ``count`` job files under ``out``; returns their paths."""
    rng = random.Random(seed)
    written: list[Path] = []
    for i in range(count):
        p = _params(rng, i)
        name = f"{p['team']}-{i:04d}"
        directory = out / str(p["namespace"]) / str(p["team"])
        directory.mkdir(parents=True, exist_ok=True)
        if i % 10 == 9:
            path = directory / f"{name}.json"
            path.write_text(_json_job(name, p))
        else:
            kind = i % 10
            template = PERIODIC if kind in (3, 7) else SYSTEM if kind == 5 else SERVICE
            path = directory / f"{name}.nomad"
            path.write_text(template.format(name=name, **p))
            if template is SERVICE and i % 5 == 0:
                (directory / f"{name}.vars.hcl").write_text(VARS.format(name=name, **p))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    files = generate(args.out, count=args.count, seed=args.seed)
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} job files, {size / len(files):.0f} bytes each on average")


if __name__ == "__main__":
    main()
