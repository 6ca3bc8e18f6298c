resource "aws_ecs_cluster" "s3proxy" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

locals {
  container_name = "s3proxy"

  # The listen addresses, ports and drain time must agree with the target group and stopTimeout,
  # so the module sets them (S3PROXY_* overrides win over the configuration file).
  environment = merge(var.environment, {
    S3PROXY_CONFIG_YAML              = var.config_yaml
    S3PROXY_SERVER__HOST             = "0.0.0.0"
    S3PROXY_SERVER__PORT             = tostring(var.s3_port)
    S3PROXY_SERVER__ADMIN_HOST       = "0.0.0.0"
    S3PROXY_SERVER__ADMIN_PORT       = tostring(var.admin_port)
    S3PROXY_SERVER__SHUTDOWN_TIMEOUT = tostring(var.shutdown_timeout)
    # The ALB's deregistration_delay drains the task before SIGTERM; a drain_delay from
    # config_yaml would come on top of shutdown_timeout and SIGKILL could cut it.
    S3PROXY_SERVER__DRAIN_DELAY = "0"
    # Longer than the ALB's idle timeout (main.tf): the ALB, not the task, closes idle ones.
    S3PROXY_SERVER__KEEP_ALIVE_TIMEOUT = tostring(local.alb_idle_timeout + 5)
  })

  container = {
    name      = local.container_name
    image     = var.image
    essential = true
    user      = "10001:10001"
    # Fargate has no config-file volume: the configuration travels in S3PROXY_CONFIG_YAML (no
    # secrets in it: those are env:NAME references to var.secrets) and is written to the task's
    # scratch volume at start. `exec` makes s3proxy PID 1's child that receives SIGTERM.
    entryPoint = ["/bin/sh", "-c"]
    command    = ["umask 077 && printf '%s\\n' \"$S3PROXY_CONFIG_YAML\" > /tmp/s3proxy.yaml && exec s3proxy serve --config /tmp/s3proxy.yaml"]

    readonlyRootFilesystem = true
    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]

    portMappings = [
      { name = "s3", containerPort = var.s3_port, protocol = "tcp" },
      { name = "admin", containerPort = var.admin_port, protocol = "tcp" },
    ]
    environment = [for name, value in local.environment : { name = name, value = value }]
    secrets     = [for name, arn in var.secrets : { name = name, valueFrom = arn }]

    stopTimeout = local.stop_timeout
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.admin_port}/healthz', timeout=3)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 15
    }
    ulimits = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.s3proxy.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "s3proxy"
      }
    }
  }
}

resource "aws_ecs_task_definition" "s3proxy" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Task-local scratch space; the container's root filesystem is read-only.
  volume {
    name = "tmp"
  }

  tags = local.tags
}

resource "aws_ecs_service" "s3proxy" {
  name             = var.name
  cluster          = aws_ecs_cluster.s3proxy.id
  task_definition  = aws_ecs_task_definition.s3proxy.arn
  desired_count    = var.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  enable_execute_command            = false
  health_check_grace_period_seconds = 30

  # Rolling updates never drop below the desired count; a deployment whose tasks do not become
  # healthy rolls back by itself.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.s3proxy.arn
    container_name   = local.container_name
    container_port   = var.s3_port
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling
  }

  depends_on = [aws_lb_listener.https, aws_iam_role_policy.execution]

  tags = local.tags
}
