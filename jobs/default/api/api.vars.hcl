# Values for api.nomad (applied automatically: same name, `.vars.hcl`).
release   = "2.4.1"
replicas  = 3
log_level = "warn"
