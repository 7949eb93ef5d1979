# Prometheus node exporter on every client: a system job. The binary comes
# from the upstream release tarball (mirrored internally), pinned by its sha256.
job "node-exporter" {
  datacenters = ["dc1"]
  namespace   = "platform"
  type        = "system"

  update {
    max_parallel = 1
    stagger      = "10s"
  }

  group "exporter" {
    network {
      port "metrics" {
        static = 9100
      }
    }

    service {
      name = "node-exporter"
      port = "metrics"
      tags = ["prometheus"]

      check {
        type     = "http"
        path     = "/metrics"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "node-exporter" {
      driver = "raw_exec"

      artifact {
        source = "https://artifacts.example.com/mirror/prometheus/node_exporter-1.3.1.linux-amd64.tar.gz"

        options {
          checksum = "sha256:68f3802c2dd3980667e4ba65ea2e1fb03f4a4ba026cca375f15a0390ff850949"
        }
      }

      config {
        command = "local/node_exporter-1.3.1.linux-amd64/node_exporter"
        args    = ["--web.listen-address=:${NOMAD_PORT_metrics}"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
