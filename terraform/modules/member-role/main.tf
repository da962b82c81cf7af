# The role the management account's remediation function assumes in this member account
# (account-group mode): trusted by exactly that function's role, allowed exactly the ECS
# calls the function makes on this account's security groups.

data "alicloud_account" "current" {}

locals {
  # Keep in sync with remediation_actions / restrict_actions of the root module's iam.tf
  # (ECS part): member accounts get only the ECS calls, never Config or STS.
  member_ecs_actions      = ["ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"]
  member_restrict_actions = ["ecs:AuthorizeSecurityGroup"]

  function_role_arn  = "acs:ram::${var.management_account_id}:role/${var.function_role_name}"
  security_group_arn = "acs:ecs:*:${data.alicloud_account.current.id}:securitygroup/*"
  policy_name        = "${var.role_name}-policy"
}

resource "alicloud_ram_role" "this" {
  name        = var.role_name
  description = "Assumed by ${local.function_role_arn} (sg-remediation) to revoke internet-exposed security group rules in this account."
  document = jsonencode({
    Version = "1"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { RAM = [local.function_role_arn] }
    }]
  })
  max_session_duration = var.max_session_duration

  lifecycle {
    precondition {
      condition     = data.alicloud_account.current.id != var.management_account_id
      error_message = "This module is for member accounts: the management account's own groups are handled with the function's own role."
    }
  }
}

resource "alicloud_ram_policy" "this" {
  policy_name     = local.policy_name
  description     = "Least privilege of sg-remediation in a member account: the ECS calls on security groups the function makes."
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect   = "Allow"
      Action   = concat(local.member_ecs_actions, var.restrict_mode ? local.member_restrict_actions : [])
      Resource = [local.security_group_arn]
    }]
  })
}

resource "alicloud_ram_role_policy_attachment" "this" {
  role_name   = alicloud_ram_role.this.name
  policy_name = alicloud_ram_policy.this.policy_name
  policy_type = "Custom"
}
