# Indented heredocs (<<-) with %{ if } / %{ else } directives, with and without ~ strip markers.
variable "tls" {
  type    = bool
  default = true
}

variable "debug" {
  type    = bool
  default = false
}

job "h01-if-else" {
  datacenters = ["dc1"]

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["600"]
      }

      # No strip markers: every line starts literally, all are flushed.
      template {
        destination = "local/plain-if.conf"
        data        = <<-EOT
          listen 8080
          %{ if var.tls }
          ssl on
          %{ else }
          ssl off
          %{ endif }
          done
          EOT
      }

      # ~} after each directive: the line after it keeps its indentation.
      template {
        destination = "local/right-strip.conf"
        data        = <<-EOT
          listen 8080
          %{ if var.tls ~}
          ssl on
          %{ else ~}
          ssl off
          %{ endif ~}
          done
          EOT
      }

      # %{~ before each directive: it eats the indentation before it, so no line is flushed.
      template {
        destination = "local/left-strip.conf"
        data        = <<-EOT
          listen 8080
          %{~ if var.tls }
          ssl on
          %{~ else }
          ssl off
          %{~ endif }
          done
          EOT
      }

      # Both markers on every directive.
      template {
        destination = "local/both-strip.conf"
        data        = <<-EOT
          listen 8080
          %{~ if var.tls ~}
          ssl on
          %{~ else ~}
          ssl off
          %{~ endif ~}
          done
          EOT
      }

      # A false condition, markers on one side only, directives at column 0 of the heredoc.
      template {
        destination = "local/false-branch.conf"
        data        = <<-EOT
            level info
%{ if var.debug ~}
            level debug
%{ else ~}
            level warn
%{ endif ~}
            tail
          EOT
      }

      # Text right after a directive on the same line, and an inline if/else.
      template {
        destination = "local/same-line.conf"
        data        = <<-EOT
          %{ if var.tls }tls_cert = "/etc/cert.pem"
          %{ endif }mode = %{ if var.debug }debug%{ else }quiet%{ endif }
            nested = yes
          end
          EOT
      }
    }
  }
}
