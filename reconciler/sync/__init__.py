"""The one-shot sync's I/O edge: read the cluster, apply a plan, follow rollouts, render.

Decisions live in the pure core (``reconciler.core.diff`` / ``.plan``); this
package only sequences I/O around them.  Public entry points:

- ``engine.Reconciler(api_or_client, policy, *, annotate=True, timeout_s=300,
  refresh=False, on_outcome=None, on_progress=None, inputs=None, analysis=None)``:
  ``await reconcile(snapshot, *, only=None, dry_run=False) -> PassResult``,
  ``await plan(snapshot, *, only=None) -> Plan``,
  ``await read_cluster(snapshot, *, only=None, deployments=False) -> ClusterState``;
  keeps the per-process ``(JobModifyIndex, digest)`` memory in ``.memory``.
- ``api.NomadApi`` (the six verbs the sync needs) and ``api.ClientApi`` over
  ``NomadClient``; ``session.connect(config)`` opens one.
- ``outcome``: ``PassResult``, ``JobOutcome``, ``Result``, ``Rollout``.
- ``render`` (text like ``nomad job plan``) and ``report`` (``--json``,
  schema in docs/json-output.md); ``oneshot`` runs the CLI commands.
- ``analysis.AnalysisRunner``: canary analysis against Prometheus, run by
  ``sync --wait`` (``gate``) and recomputed by ``status`` (``recompute``,
  ``status_analysis``); docs/analysis.md.
"""
