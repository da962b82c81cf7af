# Offline tests of the module: `terraform test` (run from terraform/, see tf-check.sh).
# No credentials, no network: the provider is mocked; data sources get fixed values.

mock_provider "alicloud" {
  mock_data "alicloud_account" {
    defaults = {
      id = "1234567890123456"
    }
  }

  mock_data "alicloud_regions" {
    defaults = {
      regions = [{ id = "cn-hangzhou", region_id = "cn-hangzhou", local_name = "China (Hangzhou)" }]
    }
  }

  # Computed attributes, used only by the `apply` run below (plan leaves them unknown).
  mock_resource "alicloud_fcv3_function" {
    defaults = {
      function_arn = "acs:fc:cn-hangzhou:1234567890123456:functions/sg-remediation"
    }
  }

  mock_resource "alicloud_ram_role" {
    defaults = {
      arn = "acs:ram::1234567890123456:role/sg-remediation-fc-role"
    }
  }

  mock_resource "alicloud_config_rule" {
    defaults = {
      config_rule_id = "cr-0123456789abcdef0123"
    }
  }

  mock_resource "alicloud_config_remediation" {
    defaults = {
      remediation_id = "crr-0123456789abcdef0123"
    }
  }
}

# The real dist/function.zip may not exist (clean clone, CI): use a committed fixture.
variables {
  function_zip_path = "tests/fixtures/function.zip"
}

run "defaults" {
  command = plan

  # Policy: exactly the API actions the code calls (logging apart), no wildcard action.
  assert {
    condition = toset(flatten([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action
      if !contains(s.Action, "log:PostLogStoreLogs")
    ])) == toset(["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"])
    error_message = "The policy must grant exactly the three API actions the code calls."
  }

  assert {
    condition = alltrue([
      for a in flatten([for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action]) :
      !strcontains(a, "*")
    ])
    error_message = "No action may contain a wildcard."
  }

  assert {
    condition     = length(flatten([for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action])) == 4
    error_message = "Three API actions plus log:PostLogStoreLogs, nothing else."
  }

  # ECS actions scoped to this account's security groups.
  assert {
    condition = alltrue([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement :
      s.Resource == ["acs:ecs:*:1234567890123456:securitygroup/*"]
      if anytrue([for a in s.Action : startswith(a, "ecs:")])
    ])
    error_message = "ECS actions must be scoped to acs:ecs:*:<account id>:securitygroup/*."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement :
      s.Action == ["log:PostLogStoreLogs"] &&
      s.Resource == ["acs:log:cn-hangzhou:1234567890123456:project/sg-remediation-1234567890123456/logstore/sg-remediation-function"]
    ])
    error_message = "Logging: log:PostLogStoreLogs on the function's own logstore only."
  }

  assert {
    condition     = jsondecode(alicloud_ram_role.this.document).Statement[0].Principal.Service == ["fc.aliyuncs.com"]
    error_message = "The role must be trusted by fc.aliyuncs.com."
  }

  # Function.
  assert {
    condition     = alicloud_fcv3_function.this.runtime == "go1" && alicloud_fcv3_function.this.handler == "main"
    error_message = "Runtime go1, handler main."
  }

  assert {
    condition     = alicloud_fcv3_function.this.memory_size == 256 && alicloud_fcv3_function.this.timeout == 900 && alicloud_fcv3_function.this.cpu == 0.25
    error_message = "Default memory 256 MB (0.25 vCPU), timeout 900 s."
  }

  assert {
    condition     = alicloud_fcv3_function.this.environment_variables["RISKY_PORTS"] == alicloud_config_rule.this.input_parameters["ports"]
    error_message = "The function's RISKY_PORTS must equal the Config rule's ports input."
  }

  assert {
    condition = alicloud_fcv3_function.this.environment_variables == tomap({
      RISKY_PORTS     = "22,3389,3306"
      DRY_RUN         = "false"
      EXEMPT_TAG      = "sg-remediation=exempt"
      CONFIG_REGION   = "cn-shanghai"
      MAX_CONCURRENCY = "8"
    })
    error_message = "Default environment: no ALLOWED_CIDRS, no endpoint overrides."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.log_config[0].project == alicloud_log_project.this.project_name &&
      alicloud_fcv3_function.this.log_config[0].logstore == alicloud_log_store.this.logstore_name
    )
    error_message = "The function's log config must point at the module's project and logstore."
  }

  assert {
    condition     = alicloud_log_store.this.retention_period == 180
    error_message = "Default log retention is 180 days."
  }

  # Config rule and remediation.
  assert {
    condition = (
      alicloud_config_rule.this.source_owner == "ALIYUN" &&
      alicloud_config_rule.this.source_identifier == "sg-risky-ports-check" &&
      alicloud_config_rule.this.resource_types_scope == tolist(["ACS::ECS::SecurityGroup"]) &&
      alicloud_config_rule.this.config_rule_trigger_types == "ConfigurationItemChangeNotification" &&
      alicloud_config_rule.this.risk_level == 1
    )
    error_message = "Managed rule sg-risky-ports-check on ACS::ECS::SecurityGroup, triggered by configuration changes."
  }

  assert {
    condition = (
      alicloud_config_remediation.this.remediation_type == "FC" &&
      alicloud_config_remediation.this.remediation_source_type == "CUSTOM" &&
      alicloud_config_remediation.this.invoke_type == "AUTO_EXECUTION"
    )
    error_message = "Remediation FC/CUSTOM, AUTO_EXECUTION by default."
  }
}

run "restrict_mode_grants_authorize" {
  command = plan

  variables {
    allowed_cidrs = ["203.0.113.0/24", "2001:db8::/32"]
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action
      if !contains(s.Action, "log:PostLogStoreLogs")
    ])) == toset(["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup", "ecs:AuthorizeSecurityGroup"])
    error_message = "With allowed_cidrs the policy must grant exactly the four API actions."
  }

  assert {
    condition     = alicloud_fcv3_function.this.environment_variables["ALLOWED_CIDRS"] == "203.0.113.0/24,2001:db8::/32"
    error_message = "allowed_cidrs must reach the function as ALLOWED_CIDRS."
  }
}

run "careful_rollout" {
  command = plan

  variables {
    dry_run               = true
    invoke_type           = "MANUAL_EXECUTION"
    risky_ports           = "22,3389,3306,1433-1434"
    max_concurrency       = 4
    config_region         = "ap-southeast-1"
    exempt_tag            = "keep-open"
    risk_level            = 2
    excluded_resource_ids = ["sg-aaa111", "sg-bbb222"]
    rule_region_ids       = ["cn-hangzhou", "cn-beijing"]
    tag_scope_key         = "env"
    tag_scope_value       = "prod"
    function_memory_size  = 512
    function_timeout      = 600
    log_retention_days    = 30
    log_project_name      = "my-sg-logs"
  }

  assert {
    condition     = alicloud_fcv3_function.this.environment_variables["DRY_RUN"] == "true"
    error_message = "dry_run = true must reach the function's environment."
  }

  assert {
    condition     = alicloud_config_remediation.this.invoke_type == "MANUAL_EXECUTION"
    error_message = "invoke_type MANUAL_EXECUTION must pass through."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.environment_variables["RISKY_PORTS"] == "22,3389,3306,1433-1434" &&
      alicloud_config_rule.this.input_parameters["ports"] == "22,3389,3306,1433-1434"
    )
    error_message = "risky_ports feeds both the function and the rule."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.environment_variables["MAX_CONCURRENCY"] == "4" &&
      alicloud_fcv3_function.this.environment_variables["CONFIG_REGION"] == "ap-southeast-1" &&
      alicloud_fcv3_function.this.environment_variables["EXEMPT_TAG"] == "keep-open"
    )
    error_message = "max_concurrency, config_region and exempt_tag must reach the function."
  }

  assert {
    condition = (
      alicloud_config_rule.this.risk_level == 2 &&
      alicloud_config_rule.this.exclude_resource_ids_scope == "sg-aaa111,sg-bbb222" &&
      alicloud_config_rule.this.region_ids_scope == "cn-hangzhou,cn-beijing" &&
      alicloud_config_rule.this.tag_key_scope == "env" &&
      alicloud_config_rule.this.tag_value_scope == "prod"
    )
    error_message = "Risk level, excluded resources, regions and tag scope must reach the rule."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.memory_size == 512 && alicloud_fcv3_function.this.cpu == 0.5 &&
      alicloud_fcv3_function.this.timeout == 600 && alicloud_log_store.this.retention_period == 30 &&
      alicloud_log_project.this.project_name == "my-sg-logs"
    )
    error_message = "Memory, vCPU, timeout, retention and project name must follow the variables."
  }
}

# Outputs and wiring of computed values, with the mocked provider's values.
run "outputs_with_mocked_apply" {
  command = apply

  assert {
    condition     = alicloud_config_remediation.this.remediation_template_id == output.function_arn
    error_message = "The remediation's template must be the function ARN."
  }

  assert {
    condition     = alicloud_config_remediation.this.config_rule_id == output.config_rule_id
    error_message = "The remediation must belong to the module's rule."
  }

  assert {
    condition     = alicloud_fcv3_function.this.role == output.role_arn
    error_message = "The function must run with the module's role."
  }

  assert {
    condition = (
      output.function_name == "sg-remediation" &&
      output.function_arn == "acs:fc:cn-hangzhou:1234567890123456:functions/sg-remediation" &&
      output.config_rule_id == "cr-0123456789abcdef0123" &&
      output.remediation_id == "crr-0123456789abcdef0123" &&
      output.role_arn == "acs:ram::1234567890123456:role/sg-remediation-fc-role" &&
      output.log_project == "sg-remediation-1234567890123456" &&
      output.logstore == "sg-remediation-function"
    )
    error_message = "Outputs must expose the created resources."
  }
}

################################################################################
# Failures: bad input is rejected at plan time with a clear message.
################################################################################

run "missing_zip_fails_at_plan" {
  command = plan

  variables {
    function_zip_path = "tests/fixtures/no-such-function.zip"
  }

  expect_failures = [alicloud_fcv3_function.this]
}

run "rejects_port_out_of_range" {
  command = plan

  variables {
    risky_ports = "22,65536"
  }

  expect_failures = [var.risky_ports]
}

run "rejects_malformed_port_list" {
  command = plan

  variables {
    risky_ports = "22, ssh"
  }

  expect_failures = [var.risky_ports]
}

run "rejects_reversed_range_and_zero" {
  command = plan

  variables {
    risky_ports = "3389-22,0"
  }

  expect_failures = [var.risky_ports]
}

run "rejects_whole_internet_in_allowed_cidrs" {
  command = plan

  variables {
    allowed_cidrs = ["203.0.113.0/24", "0.0.0.0/0"]
  }

  expect_failures = [var.allowed_cidrs]
}

run "rejects_ipv6_whole_internet_in_allowed_cidrs" {
  command = plan

  variables {
    allowed_cidrs = ["::/0"]
  }

  expect_failures = [var.allowed_cidrs]
}

run "rejects_invalid_cidr" {
  command = plan

  variables {
    allowed_cidrs = ["10.0.0.0/33"]
  }

  expect_failures = [var.allowed_cidrs]
}

run "rejects_unknown_invoke_type" {
  command = plan

  variables {
    invoke_type = "Automatic"
  }

  expect_failures = [var.invoke_type]
}

run "rejects_unknown_config_region" {
  command = plan

  variables {
    config_region = "cn-hangzhou"
  }

  expect_failures = [var.config_region]
}

run "rejects_concurrency_out_of_range" {
  command = plan

  variables {
    max_concurrency = 65
  }

  expect_failures = [var.max_concurrency]
}

run "rejects_timeout_over_fc_limit" {
  command = plan

  variables {
    function_timeout = 86401
  }

  expect_failures = [var.function_timeout]
}
