data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- Execution role: what ECS itself needs to start the task (image, secrets, logs). ---

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "ReadTheConfiguredSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "DecryptTheConfiguredSecrets"
      actions   = ["kms:Decrypt"]
      resources = var.secrets_kms_key_arns
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "WriteToTheServiceLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.s3proxy.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid = "PullTheImageFromItsEcrRepository"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [1]
    content {
      # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*" here.
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- Upstream access: the configured buckets, nothing else. ---

data "aws_iam_policy_document" "upstream" {
  statement {
    sid = "ListTheUpstreamBuckets"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
    ]
    resources = local.bucket_arns
  }

  statement {
    sid = "ObjectsInTheUpstreamBuckets"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:GetObjectAttributes",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = local.object_arns
  }

  dynamic "statement" {
    for_each = length(var.upstream_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "SseKmsThroughS3Only"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = var.upstream_kms_key_arns
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_policy" "upstream" {
  name        = "${var.name}-upstream-buckets"
  description = "s3proxy ${var.name}: read and write the configured upstream buckets only"
  policy      = data.aws_iam_policy_document.upstream.json
  tags        = local.tags
}

# --- Task role: what the proxy process may do. No ECS Exec, no other AWS API. ---

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "task_upstream" {
  role       = aws_iam_role.task.name
  policy_arn = aws_iam_policy.upstream.arn
}

# By default s3proxy signs upstream requests with the task role (an upstream without access_key /
# secret_key uses the AWS credential chain). With static keys instead (upstreams.*.access_key), the
# IAM user that owns those keys gets exactly the same bucket-limited policy.
resource "aws_iam_user_policy_attachment" "upstream_user" {
  #checkov:skip=CKV_AWS_40:only for deployments that choose static upstream keys, which only an IAM user has
  count = var.upstream_iam_user_name == null ? 0 : 1

  user       = var.upstream_iam_user_name
  policy_arn = aws_iam_policy.upstream.arn
}
