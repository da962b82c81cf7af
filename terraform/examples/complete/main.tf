# Complete: one function in the management account remediates every account of a
# Resource Directory account group, with exceptions, notifications and a rate limit.
# Each member account applies modules/member-role (shown here for one member through an
# assumed role); the account group's remediation is applied apart with
# modules/aggregate-remediation (provider >= 1.267.0, see the module README).

terraform {
  required_version = ">= 1.5"

  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = "~> 1.240.0"
    }
  }
}

provider "alicloud" {
  region = var.region
}

# One member account, reached from the management account through the Resource Directory
# access role. Repeat (or use a separate configuration) for every member.
provider "alicloud" {
  alias  = "member"
  region = var.region

  assume_role {
    role_arn     = "acs:ram::${var.member_account_id}:role/ResourceDirectoryAccountAccessRole"
    session_name = "sg-remediation-setup"
  }
}

module "sg_remediation" {
  source = "../.."

  name_prefix       = "sg-remediation"
  function_zip_path = var.function_zip_path
  tags              = { owner = "secops", managed-by = "terraform" }

  # Detection and remediation
  rule_source   = "custom"
  risky_ports   = "22,3389,3306,5432,6379,1433-1434"
  dry_run       = false
  allowed_cidrs = ["203.0.113.0/24"] # narrow instead of close
  exempt_tag    = "sg-remediation=exempt"
  config_region = var.region

  # Account groups: the rule goes to the account group; no single-account remediation
  # (invoke_type belongs to modules/aggregate-remediation, applied apart).
  aggregator_id    = var.aggregator_id
  member_role_name = module.member_role.role_name
  # (maximum_execution_frequency, periodic evaluation, is not available on an account
  # group's rule with provider 1.240.0.)

  # Accepted risk, with owner and end date
  max_exception_days = 90
  exceptions = [
    {
      group  = "sg-bp1example0000000001"
      ports  = "22"
      until  = "2026-12-31"
      owner  = "alice@example.com"
      reason = "vendor VPN being migrated, SEC-1234"
    },
  ]

  # Notifications (the URL carries the robot's token: pass it as a sensitive variable)
  notify_urls   = var.notify_urls
  notify_secret = var.notify_secret
  notify_on     = ["revoked", "would-revoke", "failed", "excepted"]

  # Quotas
  max_concurrency      = 8
  max_calls_per_second = 10

  # Logs: kept when the module is destroyed
  log_retention_days = 365
  protect_logs       = true

  create_service_linked_roles = false
}

module "member_role" {
  source = "../../modules/member-role"
  providers = {
    alicloud = alicloud.member
  }

  management_account_id = module.sg_remediation.account_id
  function_role_name    = module.sg_remediation.role_name
  role_name             = "sg-remediation-member"
  restrict_mode         = true # allowed_cidrs is set above
}
