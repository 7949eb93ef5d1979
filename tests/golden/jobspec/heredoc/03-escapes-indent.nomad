# Indented heredocs (<<-): escapes, tabs mixed with spaces, interpolations and blank lines at line starts.
variable "port" {
  type    = number
  default = 8080
}

variable "name" {
  type    = string
  default = "  padded"
}

job "h03-escapes-indent" {
  datacenters = ["dc1"]

  group "g" {
    task "t" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["600"]
      }

      # $${ and %%{ escapes stay literal; the escaped directive does not change indentation.
      template {
        destination = "local/escapes.sh"
        data        = <<-EOT
          export PORT=$${NOMAD_PORT_http}
            echo "%%{ if x }" 100%
          $${HOME}/bin
          %%{ endif }
          cost: $$5 and 50%%
          EOT
      }

      # Tabs and spaces: each whitespace character counts as one column.
      template {
        destination = "local/tabs.txt"
        data        = <<-EOT
		two tabs
	  tab and two spaces
    four spaces
		%{ if true ~}
			after strip
		%{ endif ~}
		end
	EOT
      }

      # An interpolation at the start of a line sets the common indentation to zero;
      # its value's own leading spaces are never stripped.
      template {
        destination = "local/interp-start.txt"
        data        = <<-EOT
          a
${var.name}
          b
          EOT
      }

      # Interpolations after indentation, with ~ strip markers inside the heredoc.
      template {
        destination = "local/interp-strip.txt"
        data        = <<-EOT
          port = ${var.port}
          name = [${var.name}]
          x =    ${~ var.port ~}    y
          ${var.port} first
            deeper ${~ var.name}
          z ${var.port ~}
          next line
          EOT
      }

      # Blank lines and whitespace-only lines do not count, and whitespace-only lines keep their spaces.
      template {
        destination = "local/blank-lines.txt"
        data        = <<-EOT

            first
  
            second
              
          third
	
          EOT
      }

      # Indentation is whatever Go's unicode.IsSpace accepts (no-break and ideographic spaces too);
      # U+001C is not a space there, so ${~ stops at it.
      template {
        destination = "local/unicode-space.txt"
        data        = <<-EOT
            nbsp-indented
          　ideographic
          x  ${~ "y"}
          EOT
      }
    }
  }
}
