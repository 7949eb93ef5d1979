"""What the user allows a pass to do (``SyncPolicy``), built in one place for every command.

Both builders start from the settings' ``policy`` group (``config/groups.py``):
``command_policy`` adds the one-shot commands' own flags, ``daemon_policy`` the
daemon's rules.  The planner (``core/plan.py``) and the applier read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.config.groups import DaemonSettings, PolicySettings
from reconciler.errors import ConfigError
from reconciler.model import JobKey


@dataclass(frozen=True)
class SyncPolicy:
    """What the user allows a pass to do.  Plain data: flags map onto it one to one."""

    prune: bool = False
    purge: bool = False
    max_prune: float = 0.5  # fraction of owned jobs one pass (or window) may prune
    prune_grace: float = 0.0  # seconds an orphan must stay undeclared (needs a PruneHistory)
    prune_window: float = 0.0  # max_prune counts the prunes of this many seconds; 0: per pass
    preserve_counts: bool = False
    supersede_active: bool = False  # register over a running deployment
    # With supersede_active, a set limits superseding to new specs: these jobs (their
    # files changed) and jobs whose live stamp names another digest (the file moved on
    # since it was applied).  Other differences were made out of band: healing them
    # waits for the running deployment to finish.  None: every job may supersede.
    supersede_only: frozenset[JobKey] | None = None
    retry_failed: bool = False  # re-submit a spec whose rollout failed
    promote: bool = False  # promote canaries of every job (else per job Meta)
    # The daemon's promotion rules (``core/promotion.py``): canaries promoted once they
    # stayed healthy for the job's soak (Meta, else ``promote_after``) and passed their
    # analysis, from the caller's ``PromotionFacts``; off: the one-shot rules above.
    soak_promotion: bool = False
    promote_after: float | None = None
    wait: bool = False
    # Heal drift made out of band.  Off (the daemon's --no-self-heal): only changes that
    # come from git are applied (a file in ``supersede_only``, or a live stamp naming
    # another digest), the rest is planned as NONE and reported (``JobAction.unhealed``).
    heal: bool = True
    max_concurrent_deployments: int = 0  # 0: no cap
    namespaces: frozenset[str] | None = None  # only these namespaces; None: all


def command_policy(
    policy: PolicySettings,
    *,
    preserve_counts: bool = False,
    supersede: bool = False,
    retry_failed: bool = False,
    promote: bool = False,
    wait: bool = False,
    namespaces: frozenset[str] | None = None,
) -> SyncPolicy:
    """The one-shot commands' policy (``sync``, ``plan``): the daemon's ``policy`` group
    (``--prune``, ``--purge``, ``--max-prune``, ``--max-concurrent``, parsed as the daemon
    parses them) and the flags only they have, one to one."""
    if policy.purge and not policy.prune:
        raise ConfigError("--purge only applies with --prune")
    return SyncPolicy(
        prune=policy.prune, purge=policy.purge, max_prune=policy.max_prune,
        preserve_counts=preserve_counts, supersede_active=supersede, retry_failed=retry_failed,
        promote=promote, wait=wait, max_concurrent_deployments=policy.max_concurrent_deployments,
        namespaces=namespaces,
    )  # fmt: skip


def daemon_policy(settings: DaemonSettings) -> SyncPolicy:
    """The engine's policy in the daemon.

    The daemon follows rollouts itself (not the engine's blocking --wait).  Promotion
    follows the soak policy (``core/promotion.py``): the engine plans it from the
    daemon's memory of each deployment (the soak clock, the canary analysis' verdict,
    the deployment it promoted), under the pass lock like any write.  A new spec
    supersedes a running deployment: git is the source of truth, and a canary left
    awaiting promotion must not block the next commit forever (Nomad cancels the old
    deployment "due to newer version" and rolls out through the job's update strategy).
    Healing an out-of-band change waits for a running deployment to finish: each
    pass limits superseding to the jobs whose files changed (``supersede_only``).
    Self-heal (``heal``) and ``supersede_only`` are inputs of each pass, not of this
    policy: the daemon's status page plans with it and shows what a heal would change.

    Failed rollouts are held by both: the daemon holds a spec when it saw that
    spec's own deployment fail (``RolloutTracker``); the engine finds the ones
    that failed before this process started in Nomad's history (a version whose
    own deployment failed, never one merely superseded).
    """
    policy = settings.policy
    return SyncPolicy(
        prune=policy.prune, purge=policy.purge, promote=False, wait=False,
        soak_promotion=True, promote_after=policy.promote_after, supersede_active=True,
        max_prune=policy.max_prune, prune_grace=policy.prune_grace, prune_window=policy.prune_window,
    )  # fmt: skip
