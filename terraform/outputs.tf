output "endpoint" {
  description = "The S3 endpoint URL (point a DNS name covered by the certificate at alb_dns_name, and use that)."
  value       = "https://${aws_lb.s3proxy.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.s3proxy.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone id of the load balancer, for an alias record."
  value       = aws_lb.s3proxy.zone_id
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "task_security_group_id" {
  description = "Security group of the tasks (e.g. to admit them to VPC endpoints)."
  value       = aws_security_group.tasks.id
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.s3proxy.name
}

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.s3proxy.name
}

output "task_role_arn" {
  description = "IAM role of the s3proxy tasks."
  value       = aws_iam_role.task.arn
}

output "upstream_policy_arn" {
  description = "The IAM policy limited to the upstream buckets (attached to the task role and, when given, the upstream IAM user)."
  value       = aws_iam_policy.upstream.arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of the access and server logs."
  value       = aws_cloudwatch_log_group.s3proxy.name
}
