"""The one-shot sync's I/O edge: read the cluster, apply a plan, follow rollouts, render.

``engine.Reconciler`` is the reusable entry point (the CLI commands and the
daemon both drive it); the decisions themselves live in ``reconciler.core``.
"""
