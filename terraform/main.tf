# s3proxy on ECS Fargate behind an HTTPS Application Load Balancer.
#
# Traffic: clients --443--> ALB --s3_port--> tasks (private subnets) --443--> upstream S3.
# The ALB also reaches the admin port, for health checks only; nothing else does.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  bucket_arns = [for name in var.upstream_bucket_names : "arn:${local.partition}:s3:::${name}"]
  object_arns = [for name in var.upstream_bucket_names : "arn:${local.partition}:s3:::${name}/*"]

  # "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-abc123[:json-key:version-stage:version-id]"
  # -> the secret's own ARN, which is what IAM matches.
  secret_arns = distinct([for arn in values(var.secrets) : join(":", slice(split(":", arn), 0, 7))])

  # An image in ECR ("ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:tag|@digest]"): its repository
  # is the only one the execution role may pull from. Other registries need no IAM.
  ecr_image          = regexall("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^@:]+)", var.image)
  ecr_repository_arn = length(local.ecr_image) == 0 ? null : "arn:${local.partition}:ecr:${local.ecr_image[0][1]}:${local.ecr_image[0][0]}:repository/${local.ecr_image[0][2]}"

  log_kms_key_arn = var.log_kms_key_arn != null ? var.log_kms_key_arn : aws_kms_key.logs[0].arn

  # SIGKILL only after the whole drain: Fargate's stopTimeout (max 120 s).
  stop_timeout = min(120, ceil(var.shutdown_timeout) + 10)

  # The ALB's idle timeout: large objects stream for minutes, and a connection is idle when no
  # byte moved for this long. The tasks keep idle connections open longer (ecs.tf), so that the
  # ALB closes them, never a task: AWS's advice, as a task closing first may meet a request the
  # ALB sent before its FIN arrived, and the client gets 502 Bad Gateway.
  alb_idle_timeout = 300

  tags = merge({ "app.kubernetes.io/name" = "s3proxy", Service = var.name }, var.tags)
}
