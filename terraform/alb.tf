resource "aws_lb" "s3proxy" {
  #checkov:skip=CKV2_AWS_76:the web ACL is the caller's (var.waf_web_acl_arn); its rule groups are configured outside this module
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.alb_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  # Large objects stream for minutes; an idle connection is one with no byte for this long.
  idle_timeout = local.alb_idle_timeout

  access_logs {
    bucket  = var.alb_access_logs_bucket
    prefix  = var.name
    enabled = true
  }

  tags = local.tags
}

resource "aws_lb_target_group" "s3proxy" {
  name        = var.name
  port        = var.s3_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  # The ALB stops sending new requests to a stopping task and lets in-flight ones finish for this
  # long; ECS sends SIGTERM after it, and s3proxy drains what is left for shutdown_timeout.
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(var.admin_port)
    path                = var.health_check_path
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.s3proxy.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.s3proxy.arn
  }

  tags = local.tags
}

resource "aws_wafv2_web_acl_association" "s3proxy" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_lb.s3proxy.arn
  web_acl_arn  = var.waf_web_acl_arn
}
