"""``nomad-reconciler demo``: the whole loop on one machine, no cluster needed.

``walkthrough`` runs it (the fake, the daemon, the first canary rollout),
``analysis_walkthrough`` adds a canary failed by analysis against
``metrics_source`` (a real Prometheus or the built-in query API) fed by the
``traffic`` exporter; ``support`` holds what they share.
"""

from reconciler.demo.support import CHANGE_KEY, compute_changed_source, opt_into_analysis
from reconciler.demo.walkthrough import DEMO_DRIVERS, DemoOptions, run_demo

__all__ = ["CHANGE_KEY", "DEMO_DRIVERS", "DemoOptions", "compute_changed_source", "opt_into_analysis", "run_demo"]
