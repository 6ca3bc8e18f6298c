variable "name" {
  description = "Name of the service; prefixes every resource (ECS cluster and service, ALB, roles, log group)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,26}[a-z0-9]$", var.name))
    error_message = "name: 3-28 lowercase letters, digits and hyphens (the ALB and target group names derive from it)."
  }
}

variable "image" {
  description = "The s3proxy container image, built from the repository's Dockerfile. Pin it by digest (repo@sha256:...)."
  type        = string
}

variable "vpc_id" {
  description = "VPC for the load balancer and the tasks."
  type        = string
}

variable "alb_subnet_ids" {
  description = "Subnets of the load balancer (public subnets for an internet-facing ALB)."
  type        = list(string)
}

variable "task_subnet_ids" {
  description = "Private subnets of the tasks; they need a route to S3, Secrets Manager, ECR and CloudWatch Logs (NAT or VPC endpoints)."
  type        = list(string)
}

variable "internal" {
  description = "true: an internal load balancer, reachable only inside the VPC."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener (the S3 endpoint's host name, and *.host for virtual-hosted style)."
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "allowed_cidr_blocks" {
  description = "Client networks allowed to reach the HTTPS listener. No default: say who your clients are."
  type        = list(string)

  validation {
    condition     = length(var.allowed_cidr_blocks) > 0
    error_message = "allowed_cidr_blocks: list at least one client network."
  }
}

variable "egress_cidr_blocks" {
  description = "Where tasks may connect on HTTPS (443): the upstream S3 endpoint, Secrets Manager, ECR, CloudWatch Logs, and STS when an upstream has assume_role_arn (the task role's own credentials come from a link-local endpoint that security groups do not filter). Narrow it when those are VPC endpoints."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "egress_prefix_list_ids" {
  description = "Managed prefix lists the tasks may reach on 443, e.g. the S3 gateway endpoint's (com.amazonaws.REGION.s3)."
  type        = list(string)
  default     = []
}

variable "upstream_bucket_names" {
  description = "The upstream S3 buckets named in the s3proxy configuration; the IAM policy grants access to these and nothing else."
  type        = list(string)

  validation {
    condition     = length(var.upstream_bucket_names) > 0 && alltrue([for b in var.upstream_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "upstream_bucket_names: at least one valid S3 bucket name (no wildcards)."
  }
}

variable "upstream_kms_key_arns" {
  description = "KMS keys of SSE-KMS upstream buckets: the proxy may encrypt and decrypt with these (via S3 only)."
  type        = list(string)
  default     = []
}

variable "upstream_iam_user_name" {
  description = "Only with static upstream keys: the IAM user whose access keys the s3proxy configuration uses; gets the bucket-limited policy. null (the default): s3proxy signs with the task role, which has it."
  type        = string
  default     = null
}

variable "config_yaml" {
  description = "The s3proxy configuration (see examples/s3proxy.yaml). Secrets as env:NAME, NAME being a key of var.secrets. server host/ports/shutdown_timeout are set by the module, and drain_delay to 0 (the ALB's deregistration_delay drains the task first)."
  type        = string
}

variable "secrets" {
  description = "Environment variables taken from Secrets Manager: NAME => secret ARN (or ARN:json-key:: for one JSON field). Must include the one server.secret refers to."
  type        = map(string)
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys that encrypt the secrets in var.secrets (none for the AWS-managed key)."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "Extra plain environment variables, e.g. S3PROXY_LOGGING__LEVEL = \"debug\"."
  type        = map(string)
  default     = {}
}

variable "s3_port" {
  description = "The S3 port inside the task."
  type        = number
  default     = 9000
}

variable "admin_port" {
  description = "The admin port inside the task (/healthz, /readyz, /metrics); reachable only from the load balancer."
  type        = number
  default     = 9001
}

variable "health_check_path" {
  description = "Target group health check on the admin port. /healthz: ECS replaces tasks that fail it, and /readyz would turn an upstream outage into a restart loop."
  type        = string
  default     = "/healthz"
}

variable "shutdown_timeout" {
  description = "server.shutdown_timeout: seconds in-flight requests get after SIGTERM. The container's stopTimeout is this + 10 (Fargate allows at most 120)."
  type        = number
  default     = 30

  validation {
    condition     = var.shutdown_timeout >= 0 && var.shutdown_timeout <= 110
    error_message = "shutdown_timeout: 0-110 seconds (Fargate's stopTimeout is at most 120)."
  }
}

variable "deregistration_delay" {
  description = "Seconds the ALB drains a task before ECS sends it SIGTERM."
  type        = number
  default     = 30
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Fargate task memory (MiB)."
  type        = number
  default     = 2048
}

variable "desired_count" {
  description = "Tasks at creation; autoscaling owns the count afterwards."
  type        = number
  default     = 2
}

variable "min_capacity" {
  description = "Autoscaling lower bound."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Autoscaling upper bound."
  type        = number
  default     = 10
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation of the service."
  type        = number
  default     = 60
}

variable "requests_per_target" {
  description = "Target ALB requests per task per minute."
  type        = number
  default     = 6000
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the access log and server log."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group; null creates one (with rotation)."
  type        = string
  default     = null
}

variable "alb_access_logs_bucket" {
  description = "S3 bucket for the load balancer's access logs (it must allow the ELB log delivery)."
  type        = string
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL to associate with the load balancer; null for none."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
