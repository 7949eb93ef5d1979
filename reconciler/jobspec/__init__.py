"""Job files → Nomad API job JSON: HCL2 evaluation and conversion, JSON job
specifications, canonical form, Nomad's validation, directory loading.

Pure except ``loader`` (reads the jobs directory)."""
