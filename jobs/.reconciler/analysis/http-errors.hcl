# Canary analysis templates (docs/analysis.md): a job opts in with Meta
# "gitops.analysis" = "http-errors", and the daemon (run with --prometheus-url)
# promotes its canaries only once this check has passed for its whole window,
# and fails the deployment (so Nomad's auto_revert rolls it back) when it does not.
#
# The series are per allocation: http_requests_total{nomad_job, task_group,
# alloc_id, code}, as an application's exporter (or the demo's, which
# `nomad-reconciler demo` serves) labels them.  The short interval and window
# keep the demo's walkthrough to seconds; in production measure every 30s-1m
# over [1m] windows for 5-10 measurements.
analysis "http-errors" {
  check "error-rate" {
    query = <<-EOT
      sum(rate(http_requests_total{nomad_job="{{job}}", task_group="{{group}}", alloc_id=~"{{canary_alloc_ids}}", code=~"5.."}[10s]))
      /
      sum(rate(http_requests_total{nomad_job="{{job}}", task_group="{{group}}", alloc_id=~"{{canary_alloc_ids}}"}[10s]))
    EOT
    success       = "< 0.05" # under 5% of requests answered with a 5xx
    interval      = "2s"
    count         = 5
    failure_limit = 1 # one bad measurement is tolerated, a second fails the canary
  }
}
