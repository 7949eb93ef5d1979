"""``nomad-reconciler daemon``: the long-running GitOps reconciler.

Only argument parsing lives here: flags become a nested mapping of the
options actually given (argparse defaults are ``None``), ``load_settings``
applies the precedence flag > environment > config file > default, and
``run_daemon`` runs the loop until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from reconciler.commands.prometheus_options import add_prometheus_options
from reconciler.config.values import LOG_FORMATS, LOG_LEVELS

_NOMAD_FLAGS = {
    "address": "Nomad address (env NOMAD_ADDR; default http://127.0.0.1:4646)",
    "token_file": "file holding the ACL token, re-read when it changes "
    "(the token itself: env NOMAD_TOKEN; never on the command line)",
    "namespace": "default namespace for jobs that name none (env NOMAD_NAMESPACE)",
    "region": "Nomad region (env NOMAD_REGION)",
    "ca_cert": "CA certificate to verify Nomad's TLS certificate (env NOMAD_CACERT)",
    "ca_path": "directory of CA certificates (env NOMAD_CAPATH)",
    "client_cert": "client certificate for mutual TLS (env NOMAD_CLIENT_CERT)",
    "client_key": "client key for mutual TLS (env NOMAD_CLIENT_KEY)",
    "tls_server_name": "server name checked in Nomad's certificate (env NOMAD_TLS_SERVER_NAME)",
}


SWITCH = "switch"  # a --flag/--no-flag pair
CHOICE = "choice"  # one of _CHOICES
_CHOICES = {"log_format": LOG_FORMATS, "log_level": LOG_LEVELS}

# The daemon's options by settings group (``reconciler.config.groups``), in --help's order:
# (the option's dest, which is the setting's key; its METAVAR, or SWITCH; its help).
_OPTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "source": (
        ("max_file_size", "SIZE", "largest job file loaded (default 256KiB); a larger one is an "
                                  "error of that file, never parsed"),
        ("apply_uncommitted", SWITCH, "apply uncommitted edits of a git checkout too (a local "
                                      "development loop); default: only what is committed (HEAD) is applied"),
    ),
    "policy": (
        ("self_heal", SWITCH, "re-apply the declared spec when a job is changed out of band "
                              "(default on); --no-self-heal only reports drift and applies "
                              "only jobs whose files change"),
        ("promote_after", "DURATION", "promote canaries of every job once all have been healthy "
                                      "this long (e.g. 120, 2m); default off: report 'awaiting "
                                      "promotion'. Per job: Meta gitops.auto-promote / gitops.promote-after"),
        ("max_concurrent_deployments", "N", "start no new deployment from a file change while N "
                                            "run (default 0: no cap); waves (Meta gitops.wave) always roll out in order"),
        ("prune", SWITCH, "stop owned jobs whose files were removed (default off)"),
        ("purge", SWITCH, "purge instead of stop when pruning"),
        ("max_prune", "FRACTION", "prune at most this fraction of the owned jobs within "
                                  "--prune-window (default 0.5); more is held (reason guard) until confirmed"),
        ("prune_window", "DURATION", "the time --max-prune counts prunes over (default 10m), so "
                                     "deleting files one at a time cannot get around it"),
        ("prune_grace", "DURATION", "prune a job only once its file has been gone this long "
                                    "(default 30s); never while git is changing the checkout (.git/index.lock)"),
    ),
    "retry": (
        ("backoffs", "LIST", "per-job retry delays after an error caused by the cluster (Nomad "
                             "unavailable, a missing namespace, ACL denied, ...), comma-separated "
                             "(default 1,2,4,8,16,30,60)"),
        ("rejected_backoffs", "LIST", "retry delays of a spec Nomad refused for a reason in the "
                                      "file (validation); it is also retried as soon as the file "
                                      "changes (default 1m,5m,15m,30m,1h)"),
        ("workers", "N", "job batches handled concurrently (default 8)"),
    ),
    "timing": (
        ("resync_interval", "DURATION", "full pass over every job as a safety net (default 5m)"),
        ("debounce", "DURATION", "quiet time closing a burst of file events (default 100ms)"),
        ("debounce_max", "DURATION", "longest a burst may delay a pass (default 1s)"),
        ("settle", "DURATION", "a load error is reported only if it persists this long (default 1s)"),
        ("rollout_poll", "DURATION", "re-check interval of a running deployment (default 2s)"),
        ("shutdown_timeout", "DURATION", "how long in-flight writes may take at shutdown (default 20s)"),
    ),
    "process": (
        ("listen", "HOST:PORT", "address of /metrics, /healthz, /readyz (default 127.0.0.1:9464; "
                                "'' disables)"),
        ("log_format", CHOICE, "text (default, for terminals) or one JSON object per line"),
        ("log_level", CHOICE, "default info"),
        ("event_stream", SWITCH, "follow Nomad's event stream (default on); off: blocking queries"),
    ),
    "ui": (
        ("ui", SWITCH, "serve the read-only status page (/) and its JSON API (/api/v1/...) on "
                       "--listen (default on)"),
        ("ui_token_file", "FILE", "require 'Authorization: Bearer <token>' for the status page "
                                  "and API; the token is the file's content (config: ui.token or ui.token_file)"),
        ("ui_basic_auth_file", "FILE", "require HTTP basic auth for the status page and API; the "
                                       "file holds USER:PASSWORD (config: ui.basic_auth or ui.basic_auth_file)"),
    ),
}  # fmt: skip


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "daemon",
        help="run continuously: watch the jobs directory and Nomad, keep them in sync",
        description=(
            "Watch a Git-checked-out jobs directory and Nomad; register changed jobs "
            "within a second of a file change, heal out-of-band changes, follow every "
            "rollout, and serve a read-only status page, /metrics, /healthz and /readyz. Options: command line > "
            "environment (Nomad CLI names) > --config TOML file > default. SIGHUP reloads "
            "the config file; SIGTERM/SIGINT stop cleanly (in-flight writes finish)."
        ),
    )
    p.add_argument("jobs_dir", nargs="?", default=None,
                   help="the jobs directory, e.g. a git-sync 'current' link (default: .)")
    p.add_argument("--config", dest="config_file", metavar="FILE",
                   help="TOML config file (env NOMAD_RECONCILER_CONFIG); a table per settings "
                        "group ([timing] debounce = ...) or the long options' names with '_' "
                        "for '-' at the top level; Nomad options in a [nomad] table")
    p.add_argument("--var", "-var", dest="variables", action="append", metavar="KEY=VALUE",
                   help="HCL2 variable (repeatable); also NOMAD_VAR_* in the environment")
    p.add_argument("--var-file", "-var-file", dest="var_files", action="append", metavar="FILE",
                   help="HCL2 variable file (repeatable)")
    for group, options in _OPTIONS.items():
        arguments = p.add_argument_group(f"{group} settings (config file: [{group}] table)")
        for dest, metavar, help_text in options:
            flag = "--" + dest.replace("_", "-")
            if metavar == SWITCH:
                arguments.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                       help=help_text)  # fmt: skip
            elif metavar == CHOICE:
                arguments.add_argument(flag, choices=_CHOICES[dest], help=help_text)
            elif metavar == "N":
                arguments.add_argument(flag, metavar=metavar, type=int, help=help_text)
            else:
                arguments.add_argument(flag, metavar=metavar, help=help_text)
    nomad = p.add_argument_group("Nomad connection (Nomad CLI environment variables also apply)")
    for name, help_text in _NOMAD_FLAGS.items():
        nomad.add_argument("--" + name.replace("_", "-"), dest="nomad_" + name, help=help_text)
    nomad.add_argument("--tls-skip-verify", dest="nomad_skip_verify",
                       action="store_true", default=None,
                       help="do not verify Nomad's TLS certificate (env NOMAD_SKIP_VERIFY)")
    add_prometheus_options(p, purpose="canary analysis, docs/analysis.md")
    p.set_defaults(func=run)


def flags_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The options the user gave, shaped like the config file (``nomad`` nested)."""
    flags: dict[str, Any] = {}
    nomad: dict[str, Any] = {}
    for name, value in vars(args).items():
        if value is None or name in ("func", "command"):
            continue
        if name.startswith("nomad_"):
            nomad[name.removeprefix("nomad_")] = value
        else:
            flags[name] = value
    if nomad:
        flags["nomad"] = nomad
    return flags


def run(args: argparse.Namespace) -> int:
    from reconciler.config.settings import load_settings
    from reconciler.daemon.loop import run_daemon

    flags = flags_from_args(args)
    settings = load_settings(flags, os.environ)
    return run_daemon(settings, env=os.environ, flags=flags)
