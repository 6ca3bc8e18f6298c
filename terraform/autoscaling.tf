resource "aws_appautoscaling_target" "s3proxy" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.s3proxy.name}/${aws_ecs_service.s3proxy.name}"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.s3proxy.service_namespace
  scalable_dimension = aws_appautoscaling_target.s3proxy.scalable_dimension
  resource_id        = aws_appautoscaling_target.s3proxy.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.s3proxy.service_namespace
  scalable_dimension = aws_appautoscaling_target.s3proxy.scalable_dimension
  resource_id        = aws_appautoscaling_target.s3proxy.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.s3proxy.arn_suffix}/${aws_lb_target_group.s3proxy.arn_suffix}"
    }
  }
}
