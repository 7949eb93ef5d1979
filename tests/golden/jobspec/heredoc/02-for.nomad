# Indented heredocs (<<-) with %{ for } loops, nested directives and ~ on either side.
variable "servers" {
  type    = list(string)
  default = ["10.0.0.1", "10.0.0.2"]
}

variable "weights" {
  type = map(number)
  default = {
    a = 1
    b = 0
  }
}

job "h02-for" {
  datacenters = ["dc1"]

  group "lb" {
    task "haproxy" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["600"]
      }

      # The common Terraform idiom: ~} on the for, none on the endfor.
      template {
        destination = "local/for-right.cfg"
        data        = <<-EOT
          backend app
          %{ for ip in var.servers ~}
          server ${ip}:80
          %{ endfor }
          end
          EOT
      }

      # ~} on the endfor only.
      template {
        destination = "local/endfor-right.cfg"
        data        = <<-EOT
          backend app
          %{ for ip in var.servers }
          server ${ip}:80
          %{ endfor ~}
          end
          EOT
      }

      # No markers at all.
      template {
        destination = "local/for-plain.cfg"
        data        = <<-EOT
          backend app
          %{ for ip in var.servers }
          server ${ip}:80
          %{ endfor }
          end
          EOT
      }

      # %{~ on both directives.
      template {
        destination = "local/for-left.cfg"
        data        = <<-EOT
          backend app
          %{~ for ip in var.servers }
          server ${ip}:80
          %{~ endfor }
          end
          EOT
      }

      # Nested for/if with key and value, deeper body indentation, ~ everywhere.
      template {
        destination = "local/nested.cfg"
        data        = <<-EOT
          weights:
          %{ for name, w in var.weights ~}
            %{ if w > 0 ~}
              ${name}: ${w}
            %{ else ~}
              ${name}: disabled
            %{ endif ~}
          %{ endfor ~}
          end
          EOT
      }

      # Nested without markers, the loop body deeper than the surrounding text.
      template {
        destination = "local/nested-plain.cfg"
        data        = <<-EOT
          weights:
            %{ for name, w in var.weights }
              %{ if w > 0 }
                ${name}=${w}
              %{ endif }
            %{ endfor }
          end
          EOT
      }
    }
  }
}
