# nomad-reconciler running on Nomad itself (any Nomad 1.0 to 2.x; no Consul or Vault needed).
#
# One allocation, three tasks sharing the allocation directory:
#   git-clone   prestart: clones the jobs repository into alloc/data/checkout
#   git-sync    poststart sidecar: keeps that checkout up to date (fetch + hard reset,
#               so the checkout is always clean: the reconciler applies committed state)
#   reconciler  the daemon, watching alloc/data/checkout/<jobs_path> through NOMAD_ALLOC_DIR
#
# alloc/ is shared by the group's tasks; local/ and secrets/ are private to each task,
# which is why the checkout lives in alloc/data and the token in the reconciler's secrets/.
# The reconciler is the self-contained tarball from deploy/tarball/build.sh, fetched by
# an artifact block and run by the isolated exec driver (as the user `nobody`); the client
# needs git and a python3 of the tarball's version (see NOMAD_RECONCILER_PYTHON below).
#
#   nomad job run \
#       -var repo_url=https://git.example.com/platform/nomad-jobs.git \
#       -var artifact_url=https://releases.example.com/nomad-reconciler-....tar.gz \
#       -var artifact_checksum=sha256:<from the .sha256 file> \
#       deploy/nomad/nomad-reconciler.nomad.hcl
#
# Every setting below is an HCL2 variable with a working default: `-var`, `-var-file` or
# NOMAD_VAR_<name>.  The defaults suit a cluster without ACLs (token_source = "none") whose
# client agents listen on 127.0.0.1:4646 (like `nomad agent -dev`) and a jobs repository
# laid out like this project's `jobs/` directory at the repository root.

variable "repo_url" {
  type        = string
  description = "Git URL of the jobs repository (https with a read-only deploy token, or ssh)."
  default     = "https://git.example.com/platform/nomad-jobs.git"
}

variable "branch" {
  type        = string
  description = "Branch to follow; empty: the repository's default branch (its HEAD)."
  default     = ""
}

variable "jobs_path" {
  type        = string
  description = "Directory of job files inside the repository ('.': the repository root)."
  default     = "."
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

variable "python" {
  type        = string
  description = "The python3 (of the tarball's major.minor version) on the clients, inside the exec chroot."
  default     = "python3"
}

variable "nomad_addr" {
  type        = string
  description = "Nomad HTTP API as seen from the task (exec shares the host's network): the local agent by default; https://... with TLS."
  default     = "http://127.0.0.1:4646"
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "token_source" {
  type        = string
  description = <<-EOT
    Where the reconciler's Nomad ACL token comes from:
    "none" (ACLs disabled), "vault" (Vault's Nomad secrets engine; the cluster must have
    Vault enabled), "nomad-variable" (a Nomad variable, Nomad 1.4 and later), or
    "template" (token_template: any template expression that renders the token).
  EOT
  default     = "none"

  validation {
    condition     = contains(["none", "vault", "nomad-variable", "template"], var.token_source)
    error_message = "The token_source must be one of none, vault, nomad-variable, template."
  }
}

variable "vault_policies" {
  type        = list(string)
  description = "token_source = vault: the Vault policies of the task."
  default     = ["nomad-reconciler"]
}

variable "vault_secret_path" {
  type        = string
  description = "token_source = vault: the Nomad secrets engine role path (bound to deploy/acl/nomad-reconciler.policy.hcl)."
  default     = "nomad/creds/nomad-reconciler"
}

variable "nomad_variable_path" {
  type        = string
  description = "token_source = nomad-variable: the variable holding the token in its `token` item (a job may read nomad/jobs/<its job ID> without an extra ACL policy)."
  default     = "nomad/jobs/nomad-reconciler"
}

variable "token_template" {
  type        = string
  description = "token_source = template: a template body that renders the token, e.g. from Consul KV: {{ key \"nomad-reconciler/token\" }}."
  default     = ""
}

variable "service_provider" {
  type        = string
  description = <<-EOT
    "none": no service registration; a deployment is healthy when the tasks run
    (health_check = "task_states"; a configuration error makes the daemon exit, so it
    never looks healthy).  "consul": a Consul service for the metrics port with an HTTP
    check on /readyz, and deployments wait for it (needs Consul on the clients).
  EOT
  default     = "none"

  validation {
    condition     = contains(["none", "consul"], var.service_provider)
    error_message = "The service_provider must be none or consul."
  }
}

locals {
  # The token file's template per source; "none" renders no file and passes no --token-file.
  token_templates = {
    "none"           = ""
    "vault"          = "{{ with secret \"${var.vault_secret_path}\" }}{{ .Data.secret_id }}{{ end }}"
    "nomad-variable" = "{{ with nomadVar \"${var.nomad_variable_path}\" }}{{ .token }}{{ end }}"
    "template"       = var.token_template
  }
  token_template = local.token_templates[var.token_source]
  token_args     = var.token_source == "none" ? [] : ["--token-file", "${NOMAD_SECRETS_DIR}/nomad-token"]
  # What git-clone and git-sync check out: the branch, or the remote's default branch.
  clone_branch = var.branch == "" ? "" : "--branch ${var.branch}"
  track_ref    = var.branch == "" ? "origin/HEAD" : "origin/${var.branch}"
  fetch_ref    = var.branch == "" ? "" : var.branch
}

job "nomad-reconciler" {
  datacenters = var.datacenters
  type        = "service"
  namespace   = "default"

  meta {
    team = "platform"
  }

  # Its own rollout: one at a time, reverted automatically if the new version never gets
  # healthy.  Healthy means "running for min_healthy_time" without Consul, or "/readyz
  # passes" with service_provider = "consul".
  update {
    max_parallel      = 1
    health_check      = var.service_provider == "consul" ? "checks" : "task_states"
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

    # With Consul: the metrics port as a service, ready when /readyz answers 200 (first
    # pass done, Nomad reachable).  On Nomad 1.4+ without Consul, a copy of this block
    # with provider = "nomad" gives the same check from Nomad's own service registry.
    dynamic "service" {
      for_each = var.service_provider == "consul" ? ["consul"] : []
      content {
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
            git -C "$dest" fetch --quiet origin ${local.fetch_ref}
            git -C "$dest" reset --quiet --hard "${local.track_ref}"
          else
            rm -rf "$dest.tmp"
            git clone --quiet ${local.clone_branch} "${var.repo_url}" "$dest.tmp"
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
            git -C "$dest" fetch --quiet origin ${local.fetch_ref} \
              && git -C "$dest" reset --quiet --hard "${local.track_ref}" \
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
        args = concat(
          ["daemon", "${NOMAD_ALLOC_DIR}/data/checkout/${var.jobs_path}",
          "--listen", "0.0.0.0:${NOMAD_PORT_metrics}", "--log-format", "json"],
          local.token_args,
        )
      }

      # Only with token_source = "vault" (Nomad refuses a job with a vault block when the
      # cluster has no Vault).
      dynamic "vault" {
        for_each = var.token_source == "vault" ? ["vault"] : []
        content {
          policies    = var.vault_policies
          change_mode = "noop"
        }
      }

      # The token, rendered into this task's private secrets/ (a tmpfs).  The exec task
      # runs as `nobody` while templates are written by the client as root, and Nomad
      # before 1.4 has no template uid/gid: the file must be readable by others, as Nomad's
      # own secrets/vault_token is (written 0666, client/allocrunner/taskrunner/vault_hook.go,
      # v1.0.18).  The daemon re-reads the file when it changes, so rotation needs no
      # restart: change_mode noop.  On Nomad 1.4+ you may add uid = 65534, gid = 65534 and
      # use perms = "0400".
      dynamic "template" {
        for_each = var.token_source == "none" ? [] : ["token"]
        content {
          destination = "secrets/nomad-token"
          perms       = "0444"
          change_mode = "noop"
          data        = local.token_template
        }
      }

      env {
        NOMAD_ADDR              = var.nomad_addr
        NOMAD_RECONCILER_PYTHON = var.python
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
