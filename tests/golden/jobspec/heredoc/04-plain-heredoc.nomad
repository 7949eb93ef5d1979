# Plain heredocs (<<): nothing is flushed; ~ strip markers act on the neighbouring text of one line.
variable "items" {
  type    = list(string)
  default = ["x", "y"]
}

variable "on" {
  type    = bool
  default = true
}

job "h04-plain-heredoc" {
  datacenters = ["dc1"]

  group "g" {
    task "t" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["600"]

        # A heredoc that is only an interpolation is still a string when ~} trimmed its newline away.
        interp_trimmed = <<EOT
${20 + 22 ~}
EOT
        interp_newline = <<EOT
${20 + 22}
EOT
      }

      # Indented directives with ~ on either side in a plain heredoc.
      template {
        destination = "local/indented-directives.txt"
        data        = <<EOT
  head
  %{ for i in var.items ~}
    item ${i}
  %{ endfor ~}
  %{~ if var.on }
    on
  %{~ endif }
  tail
EOT
      }

      # ~} only strips up to the end of its own line: the blank line after it stays.
      template {
        destination = "local/blank-after-strip.txt"
        data        = <<EOT
%{ if var.on ~}

kept blank line above
%{ endif ~}
end
EOT
      }

      # %{~ at column 0 eats the newline (and trailing spaces) of the line before only.
      template {
        destination = "local/left-strip-column0.txt"
        data        = <<EOT
one   

two   
%{~ if var.on ~}
three
%{~ endif ~}
four
EOT
      }

      # Escapes in a plain heredoc, including at the very start of lines.
      template {
        destination = "local/escapes.txt"
        data        = <<EOT
$${literal}
  %%{ if nothing }
${"$"}{built}
$$$${double}
EOT
      }

      # An inline for with strip markers inside one line.
      template {
        destination = "local/inline.txt"
        data        = <<EOT
list: %{ for i in var.items ~} ${i} , %{~ endfor ~}   .
EOT
      }
    }
  }
}
