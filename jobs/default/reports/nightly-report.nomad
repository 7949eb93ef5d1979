# Nightly sales report: a periodic batch job. A run that is still going at the
# next launch time is not doubled (prohibit_overlap).
job "nightly-report" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    cron             = "30 2 * * *"
    time_zone        = "Europe/Berlin"
    prohibit_overlap = true
  }

  group "report" {
    reschedule {
      attempts  = 2
      interval  = "1h"
      delay     = "5m"
      unlimited = false
    }

    restart {
      attempts = 1
      delay    = "30s"
      mode     = "fail"
    }

    task "build" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo building report for $(date -u +%F) > ${NOMAD_ALLOC_DIR}/data/report.txt"]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
