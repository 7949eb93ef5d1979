# Image thumbnailer: a parameterized batch job. Nothing runs until someone
# dispatches it: `nomad job dispatch -meta size=256 thumbnailer image.png`.
job "thumbnailer" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["size"]
    meta_optional = ["format"]
  }

  group "resize" {
    task "resize" {
      driver = "exec"

      dispatch_payload {
        file = "input.img"
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "ls -l local/input.img && echo resize to ${NOMAD_META_size}"]
      }

      resources {
        cpu    = 300
        memory = 128
      }
    }
  }
}
