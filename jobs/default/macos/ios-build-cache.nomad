# Build cache for the iOS CI fleet, on the Mac minis. Runs with the Apple
# `container` task driver plugin (nomad-driver-container), which starts each
# task in its own lightweight VM; the cache image is x86_64-only, so Rosetta
# translates it on Apple Silicon.
job "ios-build-cache" {
  datacenters = ["dc1"]
  type        = "service"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "darwin"
  }

  group "cache" {
    count = 1

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "ios-build-cache"
      port = "http"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "15s"
        timeout  = "3s"
      }
    }

    task "cache" {
      driver = "container"

      config {
        image        = "registry.example.com/ci/bazel-remote:2.4"
        args         = ["--dir", "/data", "--max_size", "20"]
        ports        = ["http"]
        network_mode = "default"
        volumes      = ["/Users/ci/cache:/data"]
        init         = true
        rosetta      = true

        labels = {
          "app"  = "ios-build-cache"
          "team" = "mobile"
        }
      }

      resources {
        cpu    = 1000
        memory = 2048
      }
    }
  }
}
