# Prometheus node exporter on every client: a system job. It shares the
# host's network and PID namespaces and reads the host filesystem read-only
# (the clients enable docker volumes).
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
      driver = "docker"

      config {
        image        = "prom/node-exporter:v1.3.1"
        network_mode = "host"
        pid_mode     = "host"
        args         = ["--path.rootfs=/host", "--web.listen-address=:${NOMAD_PORT_metrics}"]
        volumes      = ["/:/host:ro,rslave"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
