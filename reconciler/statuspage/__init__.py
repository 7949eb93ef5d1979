"""The daemon's read-only status page and JSON API, served on its ``--listen`` address.

``app`` is the observer the daemon notifies and the routes it serves,
``views`` the pure view models, ``feed`` the stores shared between the
daemon's loop and the request threads, ``auth`` the optional access control.
Templates and static files ship inside the package (no CDN).
"""
