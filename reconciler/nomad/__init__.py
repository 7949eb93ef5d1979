"""The Nomad HTTP API client: the only code that talks to Nomad.

Modules (import from them directly; this package imports nothing, so
reading settings does not pull in httpx):

- ``client``    ``NomadClient`` (async, every endpoint), ``QueryResult``, ``run_sync``; its
  parts: ``request`` (one request, retries, the token), ``agent_api``, ``jobs_api``,
  ``deployments_api``, ``events_api``
- ``objects``   the one parser of Nomad's JSON: deployments, plan and write answers, job
  versions, a Job event's job (typed values); TypedDicts of the other bodies
- ``events``    the event stream: ``Event``, ``StreamSettings``, ``follow_events``
- ``retry``     ``RetryPolicy`` and when a retry can help
- ``failures``  Nomad responses and transport failures → ``reconciler.errors``
- ``hooks``     ``RequestRecord`` / connection-state callbacks for metrics
- ``versions``  server version → API ``Features``
- ``transport`` TLS, mutual TLS and unix-socket httpx client construction

The connection settings (``NomadConfig``) live in ``reconciler.config``; the
rotating token file in ``reconciler.token_file``.
"""
