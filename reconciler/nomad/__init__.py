"""The Nomad HTTP API client: the only code that talks to Nomad.

Modules (import from them directly; this package imports nothing, so
reading settings does not pull in httpx):

- ``config``    ``NomadConfig`` (``NOMAD_*`` like the CLI), ``TokenSource`` (rotating token file)
- ``client``    ``NomadClient`` (async, every endpoint), ``QueryResult``, ``run_sync``
- ``events``    the event stream: ``Event``, ``StreamSettings``, ``follow_events``
- ``retry``     ``RetryPolicy`` and when a retry can help
- ``failures``  Nomad responses and transport failures → ``reconciler.errors``
- ``hooks``     ``RequestRecord`` / connection-state callbacks for metrics
- ``versions``  server version → API ``Features``
- ``transport`` TLS, mutual TLS and unix-socket httpx client construction
"""
