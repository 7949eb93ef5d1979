# One-off schema migration for the orders database, run as a batch job when
# this file changes. Bump `meta.schema` to run it again.
job "db-migrate" {
  datacenters = ["dc1"]
  type        = "batch"

  meta {
    schema = "2024-05-01"
  }

  group "migrate" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "migrate" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo applying schema ${NOMAD_META_schema}"]
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
