# Values for orders-api.nomad (applied automatically: same name, `.vars.hcl`).
release        = "2.4.1"
release_sha256 = "9f2c4e1a7b3d5f60812e4c9a0b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d"
replicas       = 3
log_level      = "warn"
