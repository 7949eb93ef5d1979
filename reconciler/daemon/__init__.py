"""The GitOps daemon: triggers (files, Nomad events, resync timer) wired to a per-job work queue.

Layering inside the package (each module imports only those to its left)::

    queue, debounce, rollout, analysis_log, ordering, pass_lock, hooks
        →  watcher, nomad_watch, logging
        →  base → checkout → prunes → outcomes → rollouts → worker → triggers → nomad_events
        →  loop

``loop`` is the composition root; everything else is a small part it wires
(``loop``'s docstring says which part does what).
"""
