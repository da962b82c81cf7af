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
      regions = [{ id = "cn-shanghai", region_id = "cn-shanghai", local_name = "China (Shanghai)" }]
    }
  }

  # Computed attributes, used only by the `apply` run below (plan leaves them unknown).
  mock_resource "alicloud_fcv3_function" {
    defaults = {
      function_arn = "acs:fc:cn-shanghai:1234567890123456:functions/sg-remediation"
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
    ])) == toset(["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup", "config:PutEvaluations"])
    error_message = "Default (custom rule): exactly the three remediation actions plus config:PutEvaluations."
  }

  assert {
    condition = alltrue([
      for a in flatten([for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action]) :
      !strcontains(a, "*")
    ])
    error_message = "No action may contain a wildcard."
  }

  assert {
    condition     = length(flatten([for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action])) == 5
    error_message = "Four API actions plus log:PostLogStoreLogs, nothing else."
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
      s.Resource == ["acs:log:cn-shanghai:1234567890123456:project/sg-remediation-1234567890123456/logstore/sg-remediation-function"]
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
    condition     = alicloud_fcv3_function.this.environment_variables["RISKY_PORTS"] == alicloud_config_rule.this[0].input_parameters["ports"]
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
      alicloud_fcv3_function.this.log_config[0].project == alicloud_log_project.protected[0].project_name &&
      alicloud_fcv3_function.this.log_config[0].logstore == alicloud_log_store.protected[0].logstore_name
    )
    error_message = "The function's log config must point at the module's project and logstore."
  }

  assert {
    condition     = alicloud_log_store.protected[0].retention_period == 180
    error_message = "Default log retention is 180 days."
  }

  # Config rule (custom: the function) and remediation.
  assert {
    condition = (
      alicloud_config_rule.this[0].source_owner == "CUSTOM_FC" &&
      alicloud_config_rule.this[0].resource_types_scope == tolist(["ACS::ECS::SecurityGroup"]) &&
      alicloud_config_rule.this[0].config_rule_trigger_types == "ConfigurationItemChangeNotification" &&
      alicloud_config_rule.this[0].risk_level == 1
    )
    error_message = "Custom rule on ACS::ECS::SecurityGroup, triggered by configuration changes."
  }

  assert {
    condition     = length(alicloud_config_aggregate_config_rule.this) == 0 && length(alicloud_config_remediation.this) == 1
    error_message = "Without aggregator_id: this account's rule and remediation, no aggregate rule."
  }

  # Service-linked roles Config runs the rule and the remediation with.
  assert {
    condition     = toset(keys(alicloud_resource_manager_service_linked_role.this)) == toset(["config.aliyuncs.com", "remediation.config.aliyuncs.com"])
    error_message = "By default the module ensures AliyunServiceRoleForConfig and AliyunServiceRoleForConfigRemediation."
  }

  # Logs: protected from destroy by default.
  assert {
    condition = (
      length(alicloud_log_project.protected) == 1 && length(alicloud_log_project.unprotected) == 0 &&
      length(alicloud_log_store.protected) == 1 && length(alicloud_log_store.unprotected) == 0 &&
      alicloud_log_project.protected[0].tags == null
    )
    error_message = "By default the log project and logstore are the prevent_destroy variants, without tags."
  }

  assert {
    condition = (
      alicloud_config_remediation.this[0].remediation_type == "FC" &&
      alicloud_config_remediation.this[0].remediation_source_type == "CUSTOM" &&
      alicloud_config_remediation.this[0].invoke_type == "AUTO_EXECUTION"
    )
    error_message = "Remediation FC/CUSTOM, AUTO_EXECUTION by default."
  }
}

run "restrict_mode_grants_authorize" {
  command = plan

  variables {
    rule_source   = "managed"
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

  # International site: the function beside Config's API in ap-southeast-1.
  override_data {
    target = data.alicloud_regions.current
    values = {
      regions = [{ id = "ap-southeast-1", region_id = "ap-southeast-1", local_name = "Singapore" }]
    }
  }

  variables {
    rule_source           = "managed"
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
    condition     = alicloud_config_remediation.this[0].invoke_type == "MANUAL_EXECUTION"
    error_message = "invoke_type MANUAL_EXECUTION must pass through."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.environment_variables["RISKY_PORTS"] == "22,3389,3306,1433-1434" &&
      alicloud_config_rule.this[0].input_parameters["ports"] == "22,3389,3306,1433-1434"
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
      alicloud_config_rule.this[0].risk_level == 2 &&
      alicloud_config_rule.this[0].exclude_resource_ids_scope == "sg-aaa111,sg-bbb222" &&
      alicloud_config_rule.this[0].region_ids_scope == "cn-hangzhou,cn-beijing" &&
      alicloud_config_rule.this[0].tag_key_scope == "env" &&
      alicloud_config_rule.this[0].tag_value_scope == "prod"
    )
    error_message = "Risk level, excluded resources, regions and tag scope must reach the rule."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.memory_size == 512 && alicloud_fcv3_function.this.cpu == 0.5 &&
      alicloud_fcv3_function.this.timeout == 600 && alicloud_log_store.protected[0].retention_period == 30 &&
      alicloud_log_project.protected[0].project_name == "my-sg-logs"
    )
    error_message = "Memory, vCPU, timeout, retention and project name must follow the variables."
  }
}

# Outputs and wiring of computed values, with the mocked provider's values.
run "outputs_with_mocked_apply" {
  command = apply

  # prevent_destroy resources would stop the test's clean-up destroy.
  variables {
    create_service_linked_roles = false
    protect_logs                = false
  }

  assert {
    condition     = alicloud_config_rule.this[0].source_identifier == output.function_arn
    error_message = "The custom rule's source must be the function ARN."
  }

  assert {
    condition     = alicloud_config_remediation.this[0].remediation_template_id == output.function_arn
    error_message = "The remediation's template must be the function ARN."
  }

  assert {
    condition     = alicloud_config_remediation.this[0].config_rule_id == output.config_rule_id
    error_message = "The remediation must belong to the module's rule."
  }

  assert {
    condition     = alicloud_fcv3_function.this.role == output.role_arn
    error_message = "The function must run with the module's role."
  }

  assert {
    condition = (
      output.function_name == "sg-remediation" &&
      output.function_arn == "acs:fc:cn-shanghai:1234567890123456:functions/sg-remediation" &&
      output.config_rule_id == "cr-0123456789abcdef0123" &&
      output.remediation_id == "crr-0123456789abcdef0123" &&
      output.role_arn == "acs:ram::1234567890123456:role/sg-remediation-fc-role" &&
      output.log_project == "sg-remediation-1234567890123456" &&
      output.logstore == "sg-remediation-function" &&
      output.role_name == "sg-remediation-fc-role" &&
      output.policy_name == "sg-remediation-fc-policy" &&
      output.account_id == "1234567890123456" &&
      output.config_rule_source == "CUSTOM_FC" &&
      output.service_linked_role_names == []
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

################################################################################
# Rule source (#11)
################################################################################

run "managed_rule" {
  command = plan

  variables {
    rule_source = "managed"
  }

  assert {
    condition = (
      alicloud_config_rule.this[0].source_owner == "ALIYUN" &&
      alicloud_config_rule.this[0].source_identifier == "sg-risky-ports-check" &&
      alicloud_config_rule.this[0].input_parameters["ports"] == "22,3389,3306"
    )
    error_message = "rule_source = managed: sg-risky-ports-check with the same ports."
  }

  assert {
    condition = !contains(flatten([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action
    ]), "config:PutEvaluations")
    error_message = "config:PutEvaluations only with the custom rule."
  }
}

run "custom_rule_periodic" {
  command = plan

  variables {
    maximum_execution_frequency = "Twelve_Hours"
    risky_ports                 = "22,5432"
  }

  assert {
    condition = (
      alicloud_config_rule.this[0].config_rule_trigger_types == "ConfigurationItemChangeNotification,ScheduledNotification" &&
      alicloud_config_rule.this[0].maximum_execution_frequency == "Twelve_Hours" &&
      alicloud_config_rule.this[0].input_parameters["ports"] == "22,5432" &&
      alicloud_fcv3_function.this.environment_variables["RISKY_PORTS"] == "22,5432"
    )
    error_message = "Periodic evaluation adds ScheduledNotification; the ports parameter and RISKY_PORTS come from one variable."
  }
}

# Scopes apply only to managed rules (provider docs): a custom rule would ignore them.
run "rejects_scope_with_custom_rule" {
  command = plan

  variables {
    excluded_resource_ids = ["sg-aaa111"]
  }

  expect_failures = [terraform_data.rule_scope]
}

################################################################################
# Tag scope: both or neither (#17)
################################################################################

run "rejects_tag_key_without_value" {
  command = plan

  variables {
    rule_source   = "managed"
    tag_scope_key = "env"
  }

  expect_failures = [terraform_data.rule_scope]
}

run "rejects_tag_value_without_key" {
  command = plan

  variables {
    rule_source     = "managed"
    tag_scope_value = "prod"
  }

  expect_failures = [terraform_data.rule_scope]
}

# The same checks hold for the account group's rule.
run "rejects_tag_key_without_value_in_account_group_mode" {
  command = plan

  variables {
    rule_source   = "managed"
    aggregator_id = "ca-0123456789abcdef"
    tag_scope_key = "env"
  }

  expect_failures = [terraform_data.rule_scope]
}

################################################################################
# Account groups (#10)
################################################################################

run "account_group_mode" {
  command = plan

  variables {
    aggregator_id    = "ca-0123456789abcdef"
    member_role_name = "sg-remediation-member"
  }

  assert {
    condition = (
      length(alicloud_config_rule.this) == 0 && length(alicloud_config_remediation.this) == 0 &&
      alicloud_config_aggregate_config_rule.this[0].aggregator_id == "ca-0123456789abcdef" &&
      alicloud_config_aggregate_config_rule.this[0].source_owner == "CUSTOM_FC" &&
      alicloud_config_aggregate_config_rule.this[0].resource_types_scope == tolist(["ACS::ECS::SecurityGroup"]) &&
      alicloud_config_aggregate_config_rule.this[0].input_parameters["ports"] == "22,3389,3306"
    )
    error_message = "Account-group mode: the rule is an aggregate rule on the account group; no single-account rule or remediation."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action
      if !contains(s.Action, "log:PostLogStoreLogs")
    ])) == toset(["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup", "config:PutEvaluations", "config:GetAggregateDiscoveredResource", "sts:AssumeRole"])
    error_message = "Account-group mode adds config:GetAggregateDiscoveredResource and sts:AssumeRole."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement :
      s.Action == ["sts:AssumeRole"] && s.Resource == ["acs:ram::*:role/sg-remediation-member"]
    ])
    error_message = "sts:AssumeRole on exactly acs:ram::*:role/<member_role_name>, alone in its statement."
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.environment_variables["AGGREGATOR_ID"] == "ca-0123456789abcdef" &&
      alicloud_fcv3_function.this.environment_variables["MEMBER_ROLE_NAME"] == "sg-remediation-member"
    )
    error_message = "AGGREGATOR_ID and MEMBER_ROLE_NAME must reach the function."
  }
}

run "account_group_without_member_role" {
  command = plan

  variables {
    aggregator_id = "ca-0123456789abcdef"
    rule_source   = "managed"
  }

  assert {
    condition = (
      !contains(flatten([for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action]), "sts:AssumeRole") &&
      contains(flatten([for s in jsondecode(alicloud_ram_policy.this.policy_document).Statement : s.Action]), "config:GetAggregateDiscoveredResource") &&
      !contains(keys(alicloud_fcv3_function.this.environment_variables), "MEMBER_ROLE_NAME")
    )
    error_message = "Without member_role_name: no sts:AssumeRole, no MEMBER_ROLE_NAME."
  }

  assert {
    condition     = alicloud_config_aggregate_config_rule.this[0].source_identifier == "sg-risky-ports-check"
    error_message = "Managed rule on the account group."
  }
}

run "rejects_member_role_without_aggregator" {
  command = plan

  variables {
    member_role_name = "sg-remediation-member"
  }

  expect_failures = [alicloud_ram_policy.this]
}

run "rejects_periodic_aggregate_rule" {
  command = plan

  variables {
    aggregator_id               = "ca-0123456789abcdef"
    maximum_execution_frequency = "One_Hour"
  }

  expect_failures = [alicloud_config_aggregate_config_rule.this]
}

################################################################################
# Exceptions (#12)
################################################################################

run "exceptions_rendered" {
  command = plan

  variables {
    max_exception_days = 3650
    exceptions = [
      {
        group  = "sg-bp1aaaaaaaaaaaaaaaaa"
        until  = "2030-01-31"
        owner  = "alice@example.com"
        reason = "vendor VPN being migrated (SEC-1234)"
      },
      {
        group   = "sg-bp1bbbbbbbbbbbbbbbbb"
        rule    = "sgr-bp1ccccccccccccccccc"
        ports   = "22,3389"
        region  = "cn-hangzhou"
        account = "1234567890123456"
        until   = "2030-06-30T18:00:00+08:00"
        owner   = "bob"
        reason  = "migration window"
      },
    ]
  }

  assert {
    condition = alicloud_fcv3_function.this.environment_variables["EXCEPTIONS"] == jsonencode([
      { group = "sg-bp1aaaaaaaaaaaaaaaaa", until = "2030-01-31", owner = "alice@example.com", reason = "vendor VPN being migrated (SEC-1234)" },
      { group = "sg-bp1bbbbbbbbbbbbbbbbb", rule = "sgr-bp1ccccccccccccccccc", ports = "22,3389", region = "cn-hangzhou", account = "1234567890123456", until = "2030-06-30T18:00:00+08:00", owner = "bob", reason = "migration window" },
    ])
    error_message = "EXCEPTIONS is the JSON array of the exceptions, empty optional fields left out."
  }

  assert {
    condition     = !strcontains(alicloud_fcv3_function.this.environment_variables["EXCEPTIONS"], "null")
    error_message = "Unset optional fields must be left out, not written as null (the function rejects unknown or null fields)."
  }

  assert {
    condition     = alicloud_fcv3_function.this.environment_variables["MAX_EXCEPTION_DAYS"] == "3650"
    error_message = "max_exception_days must reach the function as MAX_EXCEPTION_DAYS."
  }
}

run "exception_ending_too_late_fails_at_plan" {
  command = plan

  variables {
    exceptions = [{ group = "sg-bp1aaaaaaaaaaaaaaaaa", until = "2999-12-31", owner = "alice", reason = "forever" }]
  }

  expect_failures = [alicloud_fcv3_function.this]
}

run "rejects_exception_bad_date" {
  command = plan

  variables {
    exceptions = [{ group = "sg-bp1aaaaaaaaaaaaaaaaa", until = "2026-02-30", owner = "alice", reason = "r" }]
  }

  expect_failures = [var.exceptions]
}

run "rejects_exception_without_owner" {
  command = plan

  variables {
    exceptions = [{ group = "sg-bp1aaaaaaaaaaaaaaaaa", until = "2026-12-31", owner = " ", reason = "r" }]
  }

  expect_failures = [var.exceptions]
}

run "rejects_exception_bad_fields" {
  command = plan

  variables {
    exceptions = [{ group = "i-bp1aaaa", rule = "sg-1", ports = "22-21", account = "123", region = "Hangzhou", until = "soon", owner = "alice", reason = "r" }]
  }

  expect_failures = [var.exceptions]
}

# FC allows 4 KB of environment in all: too many exceptions stop the plan.
run "environment_over_4kb_fails_at_plan" {
  command = plan

  variables {
    max_exception_days = 3650
    exceptions = [for i in range(40) : {
      group  = "sg-bp1${format("%017d", i)}"
      until  = "2030-01-31"
      owner  = "security-team@example.com"
      reason = "accepted until the vendor migration ends, ticket SEC-${i}"
    }]
  }

  expect_failures = [alicloud_fcv3_function.this]
}

################################################################################
# Notifications (#13), rate limit (#16), endpoints
################################################################################

run "notifications" {
  command = plan

  variables {
    notify_urls   = ["https://oapi.dingtalk.com/robot/send?access_token=abc", "slack+https://relay.example.com/hook"]
    notify_secret = "SECxyz"
    notify_on     = ["revoked", "failed", "excepted"]
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.environment_variables["NOTIFY_URL"] == "https://oapi.dingtalk.com/robot/send?access_token=abc,slack+https://relay.example.com/hook" &&
      alicloud_fcv3_function.this.environment_variables["NOTIFY_SECRET"] == "SECxyz" &&
      alicloud_fcv3_function.this.environment_variables["NOTIFY_ON"] == "revoked,failed,excepted"
    )
    error_message = "notify_urls (comma-joined), notify_secret and notify_on must reach the function."
  }

  # The plan shows the URL and the secret as (sensitive value), the other settings in clear.
  assert {
    condition = (
      issensitive(alicloud_fcv3_function.this.environment_variables["NOTIFY_URL"]) &&
      issensitive(alicloud_fcv3_function.this.environment_variables["NOTIFY_SECRET"]) &&
      !issensitive(alicloud_fcv3_function.this.environment_variables["NOTIFY_ON"]) &&
      !issensitive(alicloud_fcv3_function.this.environment_variables["RISKY_PORTS"])
    )
    error_message = "NOTIFY_URL and NOTIFY_SECRET must stay sensitive; nothing else needs to be."
  }
}

run "accepts_loopback_http_webhook" {
  command = plan

  variables {
    notify_urls = ["json+http://127.0.0.1:8080/hook"]
  }

  assert {
    condition     = alicloud_fcv3_function.this.environment_variables["NOTIFY_ON"] == "revoked,would-revoke,failed"
    error_message = "Default NOTIFY_ON with a URL."
  }
}

run "rate_limit_and_endpoints" {
  command = plan

  variables {
    max_calls_per_second = 5
    config_endpoint      = "config-vpc.cn-shanghai.aliyuncs.com"
    ecs_endpoint         = "http://127.0.0.1:9001"
    sts_endpoint         = "sts-vpc.cn-shanghai.aliyuncs.com"
  }

  assert {
    condition = (
      alicloud_fcv3_function.this.environment_variables["MAX_CALLS_PER_SECOND"] == "5" &&
      alicloud_fcv3_function.this.environment_variables["CONFIG_ENDPOINT"] == "config-vpc.cn-shanghai.aliyuncs.com" &&
      alicloud_fcv3_function.this.environment_variables["ECS_ENDPOINT"] == "http://127.0.0.1:9001" &&
      alicloud_fcv3_function.this.environment_variables["STS_ENDPOINT"] == "sts-vpc.cn-shanghai.aliyuncs.com"
    )
    error_message = "max_calls_per_second and the endpoint overrides must reach the function."
  }
}

run "rate_limit_zero_is_adaptive" {
  command = plan

  variables {
    max_calls_per_second = 0
  }

  assert {
    condition     = !contains(keys(alicloud_fcv3_function.this.environment_variables), "MAX_CALLS_PER_SECOND")
    error_message = "0 means adaptive only: MAX_CALLS_PER_SECOND is not set."
  }
}

################################################################################
# Service-linked roles, logs, tags, region (#17)
################################################################################

run "without_service_linked_roles" {
  command = plan

  variables {
    create_service_linked_roles = false
  }

  assert {
    condition     = length(alicloud_resource_manager_service_linked_role.this) == 0
    error_message = "create_service_linked_roles = false creates none."
  }
}

run "existing_log_project" {
  command = plan

  variables {
    create_log_project = false
    log_project_name   = "central-logs"
    tags               = { owner = "secops" }
  }

  assert {
    condition = (
      length(alicloud_log_project.protected) == 0 && length(alicloud_log_project.unprotected) == 0 &&
      alicloud_log_store.protected[0].project_name == "central-logs" &&
      alicloud_fcv3_function.this.log_config[0].project == "central-logs"
    )
    error_message = "create_log_project = false: no project resource; the logstore goes into the named one."
  }
}

run "existing_log_project_needs_a_name" {
  command = plan

  variables {
    create_log_project = false
  }

  expect_failures = [alicloud_log_store.protected]
}

run "tags_on_log_project" {
  command = plan

  variables {
    tags         = { owner = "secops", env = "prod" }
    protect_logs = false
  }

  assert {
    condition = (
      alicloud_log_project.unprotected[0].tags == tomap({ owner = "secops", env = "prod" }) &&
      length(alicloud_log_project.protected) == 0 && length(alicloud_log_store.unprotected) == 1
    )
    error_message = "tags reach the log project; protect_logs = false uses the unprotected variants."
  }
}

run "function_outside_config_region_warns" {
  command = plan

  override_data {
    target = data.alicloud_regions.current
    values = {
      regions = [{ id = "cn-hangzhou", region_id = "cn-hangzhou", local_name = "China (Hangzhou)" }]
    }
  }

  expect_failures = [check.function_region]
}

# The README's sizing: 20 exceptions of about 160 characters each fit beside the defaults.
run "twenty_exceptions_fit" {
  command = plan

  variables {
    max_exception_days = 3650
    exceptions = [for i in range(20) : {
      group  = "sg-bp1${format("%017d", i)}"
      until  = "2030-01-31"
      owner  = "security-team@example.com"
      reason = "accepted until the vendor migration ends, ticket SEC-1234"
    }]
  }

  assert {
    condition     = length(jsondecode(alicloud_fcv3_function.this.environment_variables["EXCEPTIONS"])) == 20
    error_message = "20 exceptions of about 160 characters must fit in FC's 4 KB."
  }
}

################################################################################
# Bad settings are rejected at plan time with a clear message. Several variables per run
# (each with its own validation) keep the suite fast: every run starts the provider.
################################################################################

run "rejects_bad_settings_1" {
  command = plan

  variables {
    risky_ports                 = "22,65536"
    allowed_cidrs               = ["203.0.113.0/24", "0.0.0.0/0"]
    invoke_type                 = "Automatic"
    config_region               = "cn-hangzhou"
    max_concurrency             = 65
    function_timeout            = 86401
    rule_source                 = "aliyun"
    maximum_execution_frequency = "Daily"
  }

  expect_failures = [
    var.risky_ports, var.allowed_cidrs, var.invoke_type, var.config_region,
    var.max_concurrency, var.function_timeout, var.rule_source, var.maximum_execution_frequency,
  ]
}

run "rejects_bad_settings_2" {
  command = plan

  variables {
    risky_ports          = "22, ssh"
    allowed_cidrs        = ["::/0"]
    aggregator_id        = "rd-123"
    member_role_name     = "role/with/slashes"
    max_exception_days   = 0
    notify_on            = ["revoked", "deleted"]
    max_calls_per_second = -1
  }

  expect_failures = [
    var.risky_ports, var.allowed_cidrs, var.aggregator_id, var.member_role_name,
    var.max_exception_days, var.notify_on, var.max_calls_per_second,
  ]
}

run "rejects_bad_settings_3" {
  command = plan

  variables {
    risky_ports             = "3389-22,0"
    allowed_cidrs           = ["10.0.0.0/33"]
    notify_urls             = ["http://hooks.example.com/x"]
    config_endpoint         = "config.cn-shanghai.aliyuncs.com/path?x"
    tag_scope_value         = ""
    function_arn_for_config = "arn:aws:lambda:us-east-1:123:function:x"
  }

  expect_failures = [var.risky_ports, var.allowed_cidrs, var.notify_urls, var.config_endpoint, var.tag_scope_value, var.function_arn_for_config]
}

run "function_arn_for_config_switches_both" {
  command = apply

  variables {
    create_service_linked_roles = false
    protect_logs                = false
    function_arn_for_config     = "acs:fc:cn-shanghai:1234567890123456:services/sg-remediation.LATEST/functions/sg-remediation"
  }

  assert {
    condition = (
      alicloud_config_rule.this[0].source_identifier == "acs:fc:cn-shanghai:1234567890123456:services/sg-remediation.LATEST/functions/sg-remediation" &&
      alicloud_config_remediation.this[0].remediation_template_id == alicloud_config_rule.this[0].source_identifier
    )
    error_message = "function_arn_for_config must reach both the custom rule and the remediation."
  }
}
