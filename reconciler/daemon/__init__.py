"""The GitOps daemon: triggers (files, Nomad events, resync timer) wired to a per-job work queue.

Layering inside the package (each module imports only those to its left)::

    queue, debounce, rollout, analysis_log, ordering, pass_lock, hooks, due, supervisor
        →  memory, health, watcher, nomad_watch, logging, startup
        →  timers, checkout
        →  deferrals, prunes, triggers, nomad_events
        →  outcomes, rollouts
        →  worker
        →  loop

``loop`` is the composition root: the other parts are collaborators it builds
and wires, each given only what it needs (``loop``'s docstring says which part
does what).  ``memory`` is the one record per job they share.
"""
