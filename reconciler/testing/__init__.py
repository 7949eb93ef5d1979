"""A faithful Nomad API fake on loopback, for this project's tests and for
users testing their own jobs directories."""
