# Echo server packaged with Nix as one self-contained .tar.gz (the closure of
# the program: it needs nothing from the host), run by the isolated `exec`
# driver. The artifact is pinned by its sha256, so a changed build is a new
# URL and a new checksum in this file, and the reconciler rolls it out.
job "echo-server" {
  datacenters = ["dc1"]
  namespace   = "platform"
  type        = "service"

  update {
    max_parallel     = 1
    min_healthy_time = "10s"
    healthy_deadline = "2m"
    auto_revert      = true
  }

  group "echo" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name = "echo-server"
      port = "http"

      check {
        type     = "http"
        path     = "/"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "echo" {
      driver = "exec"

      artifact {
        source      = "https://artifacts.example.com/nix/echo-server-0.3.0-x86_64-linux.tar.gz"
        destination = "local/echo-server"

        options {
          checksum = "sha256:3b1d2a8f6c9e0f4d5a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f"
        }
      }

      config {
        command = "local/echo-server/bin/echo-server"
        args    = ["--port", "${NOMAD_PORT_http}"]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
