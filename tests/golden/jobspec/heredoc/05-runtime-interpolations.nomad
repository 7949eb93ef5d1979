# Names Nomad does not know (attr, node, meta, NOMAD_*) stay ${...} text: spacing, ~ markers and heredoc lines.
variable "port" {
  type    = number
  default = 8080
}

job "h05-runtime-interpolations" {
  datacenters = ["dc1"]

  group "g" {
    task "t" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["600"]
      }

      meta {
        plain       = "${attr.kernel.name}"
        spaced      = "${ attr.kernel.name }"
        wide        = "${  NOMAD_ALLOC_ID   }"
        strip_right = "${node.unique.name ~} x"
        strip_left  = "x ${~ NOMAD_ALLOC_ID}"
        tight_strip = "${NOMAD_ALLOC_INDEX~}-end"
        indexed     = "${meta["rack"]}"
        two         = "${node.datacenter}-${ NOMAD_META_zone}"
        in_call     = "${upper(attr.kernel.name)}"
        mixed       = "port ${var.port} on ${attr.unique.network.ip-address}"
      }

      template {
        destination = "local/runtime.conf"
        data        = <<-EOT
          alloc = ${NOMAD_ALLOC_ID}
          index = ${ NOMAD_ALLOC_INDEX }
          %{ if var.port > 0 ~}
          addr = ${attr.unique.network.ip-address~}:${var.port}
          %{ endif ~}
          node = ${~ node.unique.name}
          EOT
      }
    }
  }
}
