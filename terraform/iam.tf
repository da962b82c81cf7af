locals {
  # Keep in sync with remediation.APIActions (a Go test compares them).
  remediation_actions = ["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"]
  restrict_actions    = ["ecs:AuthorizeSecurityGroup"]
}

locals {
  # ecs:AuthorizeSecurityGroup only in restrict mode.
  api_actions    = concat(local.remediation_actions, length(var.allowed_cidrs) > 0 ? local.restrict_actions : [])
  config_actions = [for a in local.api_actions : a if startswith(a, "config:")]
  ecs_actions    = [for a in local.api_actions : a if startswith(a, "ecs:")]

  # Cloud Config actions have no resource-level authorization; ECS ones scope to security groups.
  security_group_arn = "acs:ecs:*:${local.account_id}:securitygroup/*"
  logstore_arn       = "acs:log:${local.region}:${local.account_id}:project/${local.log_project_name}/logstore/${local.logstore_name}"
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
    Version = "1"
    Statement = [
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
      {
        # FC v3 ships the function's stdout to Log Service with the function role.
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = [local.logstore_arn]
      },
    ]
  })
}

resource "alicloud_ram_role_policy_attachment" "this" {
  role_name   = alicloud_ram_role.this.name
  policy_name = alicloud_ram_policy.this.policy_name
  policy_type = "Custom"
}
