"""The Nomad HTTP API client: the only code that talks to Nomad."""
