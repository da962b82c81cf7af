locals {
  # The function role's RAM actions, one list per mode; every action is written here
  # literally (a Go test reads these lists and compares them with the code).
  # Always:
  remediation_actions = ["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"]
  # Restrict mode (allowed_cidrs non-empty):
  restrict_actions = ["ecs:AuthorizeSecurityGroup"]
  # Custom rule (rule_source = "custom"): the function reports its evaluations.
  evaluation_actions = ["config:PutEvaluations"]
  # Account-group mode (aggregator_id set): configurations of member accounts.
  aggregator_actions = ["config:GetAggregateDiscoveredResource"]
  # Account-group mode with member_role_name: on exactly acs:ram::*:role/<member_role_name>.
  assume_role_actions = ["sts:AssumeRole"]
  # The function's own log output (FC 3.0 writes stdout to Log Service with the function role).
  logging_actions = ["log:PostLogStoreLogs"]
}

locals {
  api_actions = concat(
    local.remediation_actions,
    local.restrict_mode ? local.restrict_actions : [],
    local.custom_rule ? local.evaluation_actions : [],
    local.account_groups ? local.aggregator_actions : [],
  )
  config_actions = [for a in local.api_actions : a if startswith(a, "config:")]
  ecs_actions    = [for a in local.api_actions : a if startswith(a, "ecs:")]
  assume_member  = local.account_groups && var.member_role_name != ""

  # Cloud Config actions have no resource-level authorization; ECS ones scope to this
  # account's security groups (member accounts' groups are reached through their role).
  security_group_arn = "acs:ecs:*:${local.account_id}:securitygroup/*"
  member_role_arn    = "acs:ram::*:role/${var.member_role_name}"
  logstore_arn       = "acs:log:${local.region}:${local.account_id}:project/${local.log_project_name}/logstore/${local.logstore_name}"

  policy_statements = concat(
    [
      {
        Effect   = "Allow"
        Action   = local.config_actions
        Resource = ["*"]
      },
      {
        Effect   = "Allow"
        Action   = local.ecs_actions
        Resource = [local.security_group_arn]
      },
    ],
    local.assume_member ? [{
      Effect   = "Allow"
      Action   = local.assume_role_actions
      Resource = [local.member_role_arn]
    }] : [],
    [{
      Effect   = "Allow"
      Action   = local.logging_actions
      Resource = [local.logstore_arn]
    }],
  )
}

resource "alicloud_ram_role" "this" {
  name        = local.role_name
  description = "Role of the ${local.function_name} function (remediation of ${local.rule_name})."
  document = jsonencode({
    Version = "1"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Service = ["fc.aliyuncs.com"] }
    }]
  })
}

resource "alicloud_ram_policy" "this" {
  policy_name     = local.policy_name
  description     = "Least privilege of the ${local.function_name} function: the API actions its code calls, and writing its own logs."
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  policy_document = jsonencode({
    Version   = "1"
    Statement = local.policy_statements
  })

  lifecycle {
    precondition {
      condition     = var.member_role_name == "" || local.account_groups
      error_message = "member_role_name is for account-group mode: set aggregator_id too (a single account needs no member role)."
    }
  }
}

resource "alicloud_ram_role_policy_attachment" "this" {
  role_name   = alicloud_ram_role.this.name
  policy_name = alicloud_ram_policy.this.policy_name
  policy_type = "Custom"
}

################################################################################
# Service-linked roles of Cloud Config
################################################################################

# Cloud Config runs a custom rule's function and a remediation's function through its
# service-linked roles; without them nothing is ever evaluated or remediated. Creating one
# that already exists fails (CreateServiceLinkedRole is not idempotent in provider 1.240.0):
# then set create_service_linked_roles = false or import it (README, "Prerequisites").
locals {
  service_linked_roles = var.create_service_linked_roles ? {
    "config.aliyuncs.com"             = "AliyunServiceRoleForConfig"
    "remediation.config.aliyuncs.com" = "AliyunServiceRoleForConfigRemediation"
  } : {}
}

resource "alicloud_resource_manager_service_linked_role" "this" {
  for_each = local.service_linked_roles

  service_name = each.key

  lifecycle {
    # Shared by every rule and remediation of the account (and Config's own recording):
    # `terraform destroy` must not delete them. README, "Destroy".
    prevent_destroy = true
  }
}
