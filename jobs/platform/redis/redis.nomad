# Shared Redis for platform services, with its data on the allocation's
# sticky ephemeral disk so a replacement on the same node keeps the cache.
job "redis" {
  datacenters = ["dc1"]
  namespace   = "platform"
  type        = "service"

  group "cache" {
    count = 1

    ephemeral_disk {
      size    = 1024
      sticky  = true
      migrate = true
    }

    network {
      port "db" {
        to = 6379
      }
    }

    service {
      name = "redis"
      port = "db"

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image   = "redis:6.2-alpine"
        ports   = ["db"]
        args    = ["redis-server", "--appendonly", "yes", "--dir", "/alloc/data"]
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
