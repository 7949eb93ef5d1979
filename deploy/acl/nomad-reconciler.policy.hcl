# The least a nomad-reconciler daemon needs, for every namespace it manages.
#
#   nomad acl policy apply -description "GitOps reconciler" nomad-reconciler deploy/acl/nomad-reconciler.policy.hcl
#   nomad acl token create -name nomad-reconciler -policy nomad-reconciler -type client
#
# list-jobs   list jobs (one call per pass; `namespace=*` needs it in EVERY namespace since 1.9.6)
# read-job    read jobs, versions, deployments, allocations; subscribe to the Job, Deployment
#             and Allocation topics of the event stream
# submit-job  register, plan, deregister (prune), promote canaries; on Nomad >= 1.11.2 the
#             finer register-job/plan-job/deregister-job/promote-deployment may replace it
# parse-job   only for `--parser server` (POST /v1/jobs/parse, Nomad >= 1.0.18)
#
# List one block per namespace instead of "*" to confine the reconciler.
namespace "*" {
  capabilities = ["list-jobs", "read-job", "submit-job", "parse-job"]
}

# /v1/agent/self: the reconciler reads the server version to pick API features.
agent {
  policy = "read"
}
