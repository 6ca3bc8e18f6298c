# A complete deployment: s3proxy in front of two S3 buckets, clients from one corporate network.
#
# Secrets are created outside Terraform (so their values never enter the state) and referenced by
# ARN:   aws secretsmanager create-secret --name s3proxy/server-secret --secret-string "$(openssl rand -hex 32)"
# and likewise s3proxy/alice. The upstream needs no keys: s3proxy signs with the ECS task role
# (the module attaches the bucket-limited policy to it), refreshed before its credentials expire.
# Static keys are the alternative: upstream_iam_user_name, two more secrets, and access_key /
# secret_key as env:NAME in the upstream's configuration.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = var.region
}

module "s3proxy" {
  source = "../.."

  name  = "s3proxy"
  image = var.image

  vpc_id              = var.vpc_id
  alb_subnet_ids      = var.public_subnet_ids
  task_subnet_ids     = var.private_subnet_ids
  certificate_arn     = var.certificate_arn
  allowed_cidr_blocks = var.client_cidr_blocks

  alb_access_logs_bucket = var.alb_access_logs_bucket
  waf_web_acl_arn        = var.waf_web_acl_arn

  upstream_bucket_names = ["example-s3proxy-data", "example-s3proxy-archive"]

  secrets = {
    S3PROXY_SECRET   = var.server_secret_arn
    ALICE_SECRET_KEY = var.alice_secret_arn
  }

  config_yaml = <<-YAML
    server:
      region: ${var.region}
      secret: env:S3PROXY_SECRET
      virtual_host_domains: [${var.domain_name}]
    upstreams:
      main:
        endpoint: https://s3.${var.region}.amazonaws.com
        region: ${var.region}
        path_style: false
        # no access_key / secret_key: the task role
    tenants:
      alice:
        keys:
          - access_key: AKALICE00000000001
            secret_key: env:ALICE_SECRET_KEY
        home: {upstream: main, bucket: example-s3proxy-data}
        buckets:
          archive: {upstream: main, bucket: example-s3proxy-archive, prefix: ""}
    layout:
      shards: 16
  YAML

  tags = { Environment = "production" }
}
