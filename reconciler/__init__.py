"""nomad-reconciler: a GitOps reconciler for HashiCorp Nomad."""

__version__ = "0.1.0"
