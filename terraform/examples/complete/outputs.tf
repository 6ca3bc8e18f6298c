output "endpoint" {
  description = "Point domain_name at this load balancer (alias record) and use https://domain_name."
  value       = module.s3proxy.endpoint
}

output "log_group_name" {
  description = "Where the access log goes."
  value       = module.s3proxy.log_group_name
}
