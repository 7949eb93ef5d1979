"""Configuration for every command: where settings are parsed and resolved.

- ``values``: one parser per kind of value (duration, boolean, listen address, ...);
- ``connection``: how to reach Nomad (``NomadConfig``), resolved flag >
  environment > config file > default with the Nomad CLI's rules, the same
  for ``plan``, ``sync``, ``status``, ``daemon`` and ``demo``;
- ``groups``: every setting in documented groups (``DaemonSettings``:
  ``source``, ``policy``, ``retry``, ``timing``, ``process``, ``ui``,
  ``analysis``, ``nomad``), the one-shot commands' groups too;
- ``http_client``: the HTTP client settings of Nomad and Prometheus, one
  ``TLSSettings`` for both;
- ``settings``: resolving the groups from flags, the TOML config file and the
  environment, and what a reload may change (by field path).

This package reads files (the config file) but opens no connection and starts
nothing; it imports nothing of the reconciler above ``jobspec`` (checked by
``.importlinter``), so every layer may use it.
"""
