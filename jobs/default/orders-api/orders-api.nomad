# Orders API. Values that differ per environment are HCL2 variables; this
# repository sets them in orders-api.vars.hcl, which the reconciler applies
# to this file automatically (same name, `.vars.hcl`).
variable "release" {
  type        = string
  description = "Version of the orders-api build to run."
}

variable "release_sha256" {
  type        = string
  description = "sha256 of that build's tarball, as published by CI."
}

variable "replicas" {
  type    = number
  default = 2

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 10
    error_message = "The replicas value must be between 1 and 10."
  }
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "log_level" {
  type    = string
  default = "info"
}

locals {
  artifact_base = "https://artifacts.example.com/orders-api"
  tarball       = "orders-api-${var.release}-linux-amd64.tar.gz"
}

job "orders-api" {
  datacenters = var.datacenters
  type        = "service"

  meta {
    release = var.release
  }

  group "api" {
    count = var.replicas

    network {
      port "http" {}
    }

    service {
      name = "orders-api"
      port = "http"
      tags = ["api", "v${var.release}"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "api" {
      driver = "exec"

      artifact {
        source      = "${local.artifact_base}/${local.tarball}"
        destination = "local/"

        options {
          checksum = "sha256:${var.release_sha256}"
        }
      }

      config {
        command = "local/orders-api"
        args    = ["--listen", "0.0.0.0:${NOMAD_PORT_http}"]
      }

      env {
        LOG_LEVEL = var.log_level
        RELEASE   = var.release
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
