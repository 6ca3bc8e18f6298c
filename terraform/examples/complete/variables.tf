variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "image" {
  description = "The s3proxy image, pinned by digest."
  type        = string
}

variable "domain_name" {
  description = "The S3 endpoint's host name (the certificate covers it and *.it)."
  type        = string
}

variable "vpc_id" {
  description = "VPC id."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name and *.domain_name."
  type        = string
}

variable "client_cidr_blocks" {
  description = "Networks of the S3 clients."
  type        = list(string)
}

variable "alb_access_logs_bucket" {
  description = "Bucket for ALB access logs."
  type        = string
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL for the load balancer."
  type        = string
}

variable "server_secret_arn" {
  description = "Secrets Manager ARN of server.secret (identical on every task)."
  type        = string
}

variable "alice_secret_arn" {
  description = "Secrets Manager ARN of tenant alice's secret key."
  type        = string
}
