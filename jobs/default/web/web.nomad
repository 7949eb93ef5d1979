# Public web front end. Rolls out with one canary that an operator (or the
# reconciler's promotion policy) promotes once it has been healthy.
job "web" {
  datacenters = ["dc1"]
  type        = "service"

  meta {
    team    = "storefront"
    owner   = "web@example.com"
    release = "1" # a Meta change replaces every allocation: the canary goes first
  }

  # Healthy means "running for min_healthy_time": no Consul needed, so the tutorial works
  # on a bare `nomad agent -dev` of any version.  With Consul, add a service with an
  # HTTP check to the group and set health_check = "checks".  The healthy deadline leaves
  # time for the exec driver to build each allocation's chroot on a busy client.
  update {
    max_parallel      = 1
    canary            = 1
    auto_promote      = false
    auto_revert       = true
    health_check      = "task_states"
    min_healthy_time  = "5s"
    healthy_deadline  = "5m"
    progress_deadline = "10m"
  }

  group "frontend" {
    count = 3

    network {
      port "http" {}
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    task "server" {
      driver = "exec"

      config {
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--directory", "local/site"]
      }

      template {
        data        = <<EOH
<!doctype html>
<title>storefront</title>
<p>Served by allocation {{ env "NOMAD_ALLOC_ID" }} on {{ env "node.unique.name" }}.</p>
EOH
        destination = "local/site/index.html"
        change_mode = "noop"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
