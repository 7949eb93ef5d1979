"""Configuration for every command: where settings are parsed and resolved.

- ``values``: one parser per kind of value (duration, boolean, listen address);
- ``connection``: how to reach Nomad (``NomadConfig``), resolved flag >
  environment > config file > default with the Nomad CLI's rules, the same
  for ``plan``, ``sync``, ``status``, ``daemon`` and ``demo``;
- ``settings``: the daemon's settings (``DaemonSettings``), its TOML config
  file and what a reload may change.

This package reads files (the config file) but opens no connection and starts
nothing; it imports nothing of the reconciler above ``jobspec`` (checked by
``.importlinter``), so every layer may use it.
"""
