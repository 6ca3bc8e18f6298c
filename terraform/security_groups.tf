# Two security groups, each rule naming its peer: clients reach only the ALB's 443; only the ALB
# reaches the tasks (S3 port for traffic, admin port for health checks); the admin port is never
# open to a CIDR.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "s3proxy ${var.name} load balancer: HTTPS from the allowed client networks"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.allowed_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS (S3 API) from an allowed client network"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks_s3" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward S3 requests to the tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.s3_port
  to_port                      = var.s3_port
  referenced_security_group_id = aws_security_group.tasks.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks_admin" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Health checks on the tasks' admin port"
  ip_protocol                  = "tcp"
  from_port                    = var.admin_port
  to_port                      = var.admin_port
  referenced_security_group_id = aws_security_group.tasks.id
  tags                         = local.tags
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "s3proxy ${var.name} tasks: S3 and admin ports from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_s3_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "S3 requests from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.s3_port
  to_port                      = var.s3_port
  referenced_security_group_id = aws_security_group.alb.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_admin_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Health checks (admin port) from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.admin_port
  to_port                      = var.admin_port
  referenced_security_group_id = aws_security_group.alb.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "tasks_https_cidr" {
  for_each = toset(var.egress_cidr_blocks)

  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to the upstream S3, Secrets Manager, ECR and CloudWatch Logs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "tasks_https_prefix_list" {
  for_each = toset(var.egress_prefix_list_ids)

  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to an AWS service prefix list (e.g. the S3 gateway endpoint)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = each.value
  tags              = local.tags
}
