# nomad-reconciler running on Nomad itself.
#
# One allocation, three tasks sharing the allocation directory:
#   git-clone   prestart: clones the jobs repository into alloc/data/checkout
#   git-sync    poststart sidecar: keeps that checkout up to date (fetch + hard reset)
#   reconciler  the daemon, watching alloc/data/checkout/<jobs_path> through NOMAD_ALLOC_DIR
#
# alloc/ is shared by the group's tasks; local/ and secrets/ are private to each task,
# which is why the checkout lives in alloc/data and the token in the reconciler's secrets/.
# The reconciler is the self-contained tarball from deploy/tarball/build.sh, fetched by
# an artifact block and run by the isolated exec driver.
#
#   nomad job run -var repo_url=https://git.example.com/platform/nomad-jobs.git \
#       -var artifact_checksum=sha256:<from the .sha256 file> deploy/nomad/nomad-reconciler.nomad.hcl

variable "repo_url" {
  type        = string
  description = "Git URL of the jobs repository (https with a read-only deploy token, or ssh)."
  default     = "https://git.example.com/platform/nomad-jobs.git"
}

variable "branch" {
  type    = string
  default = "main"
}

variable "jobs_path" {
  type        = string
  description = "Directory of job files inside the repository."
  default     = "jobs"
}

variable "sync_interval" {
  type        = number
  description = "Seconds between fetches of the jobs repository."
  default     = 30
}

variable "artifact_url" {
  type    = string
  default = "https://releases.example.com/nomad-reconciler/0.1.0/nomad-reconciler-0.1.0-linux-x86_64-py311.tar.gz"
}

variable "artifact_checksum" {
  type        = string
  description = "sha256:<hex> of the tarball, from the .sha256 file the build writes."
  default     = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
}

job "nomad-reconciler" {
  datacenters = ["dc1"]
  type        = "service"
  namespace   = "default"

  meta {
    team = "platform"
  }

  # Its own rollout: one at a time, reverted automatically if the new version never gets healthy.
  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "reconciler" {
    # One writer per cluster: a second replica would only be a warm standby.
    count = 1

    network {
      port "metrics" {}
    }

    # alloc/data holds the checkout; keep it across in-place updates.
    ephemeral_disk {
      size    = 500
      sticky  = true
      migrate = true
    }

    service {
      name = "nomad-reconciler"
      port = "metrics"
      tags = ["metrics", "gitops"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "15s"
        timeout  = "3s"
      }
    }

    task "git-clone" {
      driver = "exec"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        command = "/bin/sh"
        args    = ["local/clone.sh"]
      }

      template {
        destination = "local/clone.sh"
        perms       = "0755"
        data        = <<-EOT
          #!/bin/sh
          set -eu
          dest="$NOMAD_ALLOC_DIR/data/checkout"
          if [ -d "$dest/.git" ]; then
            git -C "$dest" fetch --quiet origin "${var.branch}"
            git -C "$dest" reset --quiet --hard "origin/${var.branch}"
          else
            git clone --quiet --branch "${var.branch}" "${var.repo_url}" "$dest.tmp"
            mv "$dest.tmp" "$dest"
          fi
        EOT
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "git-sync" {
      driver = "exec"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        command = "/bin/sh"
        args    = ["local/sync.sh"]
      }

      template {
        destination = "local/sync.sh"
        perms       = "0755"
        data        = <<-EOT
          #!/bin/sh
          # fetch + hard reset: the reconciler reacts to the resulting file events.
          dest="$NOMAD_ALLOC_DIR/data/checkout"
          while true; do
            sleep ${var.sync_interval}
            git -C "$dest" fetch --quiet origin "${var.branch}" \
              && git -C "$dest" reset --quiet --hard "origin/${var.branch}" \
              || echo "git-sync: fetch failed, keeping the current checkout" >&2
          done
        EOT
      }

      resources {
        cpu    = 50
        memory = 64
      }
    }

    task "reconciler" {
      driver = "exec"

      artifact {
        source      = var.artifact_url
        destination = "local/"

        options {
          checksum = var.artifact_checksum
        }
      }

      config {
        command = "local/nomad-reconciler/bin/nomad-reconciler"
        args = [
          "daemon", "${NOMAD_ALLOC_DIR}/data/checkout/${var.jobs_path}",
          "--listen", "0.0.0.0:${NOMAD_PORT_metrics}",
          "--token-file", "${NOMAD_SECRETS_DIR}/nomad-token",
          "--log-format", "json",
        ]
      }

      # A Nomad ACL token from Vault's Nomad secrets engine (role "nomad-reconciler",
      # bound to deploy/acl/nomad-reconciler.policy.hcl).  The daemon re-reads the file
      # when it changes, so rotation needs no restart: change_mode noop.
      vault {
        policies    = ["nomad-reconciler"]
        change_mode = "noop"
      }

      template {
        destination = "secrets/nomad-token"
        perms       = "0400"
        change_mode = "noop"
        data        = "{{ with secret \"nomad/creds/nomad-reconciler\" }}{{ .Data.secret_id }}{{ end }}"
      }

      env {
        NOMAD_ADDR = "https://${attr.unique.network.ip-address}:4646"
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
