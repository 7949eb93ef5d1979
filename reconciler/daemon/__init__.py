"""The GitOps daemon: triggers (files, Nomad events, resync timer) wired to a per-job work queue.

Layering inside the package (each module imports only those to its left)::

    settings, queue, revision, debounce, rollout, ordering, pass_lock
        →  watcher, nomad_watch, logging  →  loop

``loop`` is the composition root; everything else is a small part it wires.
"""
