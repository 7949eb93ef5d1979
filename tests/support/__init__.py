"""What the tests share: ports, bounded waits, git checkouts, the daemon as a subprocess,
job builders, Nomad backends and fakes of our own seams.

Test modules import helpers from here and fixtures from ``conftest.py`` files, never
from another test module (``tests/test_code_quality.py`` checks it).

- ``network``: ``free_port``.
- ``waiting``: ``wait_until`` / ``wait_for`` (bounded polls) and ``stop_process``.
- ``git``: ``GitCheckout``, a jobs repository driven with the git CLI.
- ``daemon``: ``DaemonProcess`` (``python -m reconciler daemon`` with its JSON logs and
  /metrics), ``Metrics`` (one scrape), ``daemon_env``.
- ``jobs``: jobs as HCL text, API JSON and ``DesiredJob`` (the real canonical form and digest).
- ``statuspage``: the status page's checkout (example jobs plus jobs its tests change).
- ``fake_state``: what the Nomad fake recorded (writes, registrations, counts).
- ``nomad_backends``: the fake at the versions it models and a real ``nomad agent -dev``.
- ``memory_nomad``: an in-memory Nomad behind the engine's API seam.
- ``fault_proxy``, ``recorder``, ``replay``: HTTP servers that break, record and replay.
- ``observability``: values for the metrics tests and the reading of a /metrics text.
- ``exporter``: a loopback metrics exporter whose series a test drives (canary analysis).
- ``prometheus``, ``promql``, ``monitoring``: a real Prometheus, PromQL checks, the
  project's alert rules and dashboard.
"""
