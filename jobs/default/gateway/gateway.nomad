# Edge proxy: nginx in docker, its configuration rendered by a template into
# the task's local/ directory and bind-mounted where nginx reads it. A
# template change reloads nginx with SIGHUP instead of restarting it.
job "gateway" {
  datacenters = ["dc1"]
  type        = "service"

  group "nginx" {
    count = 2

    network {
      port "http" {
        static = 8080
        to     = 80
      }
    }

    service {
      name = "gateway"
      port = "http"

      check {
        type     = "http"
        path     = "/status"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.21-alpine"
        ports = ["http"]

        volumes = [
          "local/nginx.conf:/etc/nginx/conf.d/default.conf",
        ]
      }

      template {
        data          = <<EOH
upstream storefront {
{{- range service "web" }}
  server {{ .Address }}:{{ .Port }};
{{- else }}
  server 127.0.0.1:65535; # no healthy web instance yet
{{- end }}
}

server {
  listen 80;

  location /status {
    return 200 "ok\n";
  }

  location / {
    proxy_pass http://storefront;
    proxy_set_header Host $host;
  }
}
EOH
        destination   = "local/nginx.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
