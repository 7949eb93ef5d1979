# Not deployed: drafts/ is listed in .reconcilerignore. Move this file under
# default/ or platform/ to have the reconciler run it.
job "load-test" {
  datacenters = ["dc1"]
  type        = "batch"

  group "hey" {
    task "hey" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo would run hey -z 60s http://web.service.consul/"]
      }
    }
  }
}
