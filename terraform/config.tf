locals {
  # custom: the function is the rule (CUSTOM_FC, source = its ARN); managed: sg-risky-ports-check.
  rule_source_owner       = local.custom_rule ? "CUSTOM_FC" : "ALIYUN"
  function_arn_for_config = coalesce(var.function_arn_for_config, alicloud_fcv3_function.this.function_arn)
  rule_source_identifier  = local.custom_rule ? local.function_arn_for_config : "sg-risky-ports-check"
  rule_description = (local.custom_rule
    ? "Custom rule: the ${local.function_name} function judges security groups with the same decision table it remediates with."
    : "Managed rule sg-risky-ports-check; non-compliant security groups are remediated by the ${local.function_name} function."
  )
  rule_trigger_types = var.maximum_execution_frequency == null ? "ConfigurationItemChangeNotification" : "ConfigurationItemChangeNotification,ScheduledNotification"

  # One source of truth: the same value is the function's RISKY_PORTS.
  rule_input_parameters = { ports = var.risky_ports }

  exclude_resource_ids_scope = length(var.excluded_resource_ids) > 0 ? join(",", var.excluded_resource_ids) : null
  region_ids_scope           = length(var.rule_region_ids) > 0 ? join(",", var.rule_region_ids) : null
  scoped                     = local.exclude_resource_ids_scope != null || local.region_ids_scope != null || var.tag_scope_key != null || var.tag_scope_value != null
}

# Provider 1.240.0 sends a scope field on update only when it is set (UpdateConfigRule:
# `if v, ok := d.GetOk("exclude_resource_ids_scope"); ok`), so emptying a scope would leave
# the old value in Cloud Config and a diff on every plan. Instead, the rule is replaced
# whenever a scope goes from set to empty (or back): a new rule is created without it.
# The scope checks of both rule kinds (this account's and the account group's) live here.
resource "terraform_data" "rule_scope" {
  input = {
    excluded_resource_ids = local.exclude_resource_ids_scope != null
    rule_region_ids       = local.region_ids_scope != null
    tag_scope             = var.tag_scope_key != null
  }

  lifecycle {
    precondition {
      condition     = (var.tag_scope_key == null) == (var.tag_scope_value == null)
      error_message = "Set tag_scope_key and tag_scope_value together (the API takes TagKeyScope and TagValueScope as a pair), or neither."
    }

    precondition {
      condition     = !(local.custom_rule && local.scoped)
      error_message = "excluded_resource_ids, rule_region_ids and the tag scope apply only to rules created from a managed rule (provider docs of alicloud_config_rule); a custom rule could silently evaluate and remediate the groups you meant to leave out. With rule_source = \"custom\" use the exemption tag (exempt_tag) or exceptions instead, or set rule_source = \"managed\"."
    }
  }
}

resource "alicloud_config_rule" "this" {
  count = local.account_groups ? 0 : 1

  rule_name                   = local.rule_name
  description                 = local.rule_description
  source_owner                = local.rule_source_owner
  source_identifier           = local.rule_source_identifier
  resource_types_scope        = ["ACS::ECS::SecurityGroup"]
  config_rule_trigger_types   = local.rule_trigger_types
  maximum_execution_frequency = var.maximum_execution_frequency
  risk_level                  = var.risk_level
  input_parameters            = local.rule_input_parameters

  exclude_resource_ids_scope = local.exclude_resource_ids_scope
  region_ids_scope           = local.region_ids_scope
  tag_key_scope              = var.tag_scope_key
  tag_value_scope            = var.tag_scope_value

  lifecycle {
    replace_triggered_by = [terraform_data.rule_scope]
  }

  # Config calls the function through its service-linked roles.
  depends_on = [alicloud_resource_manager_service_linked_role.this]
}

# Account-group mode: one rule on the account group (aggregator) covers every member.
resource "alicloud_config_aggregate_config_rule" "this" {
  count = local.account_groups ? 1 : 0

  aggregator_id              = var.aggregator_id
  aggregate_config_rule_name = local.rule_name
  description                = local.rule_description
  source_owner               = local.rule_source_owner
  source_identifier          = local.rule_source_identifier
  resource_types_scope       = ["ACS::ECS::SecurityGroup"]
  # Provider 1.240.0 accepts one trigger type here (validation.StringInSlice).
  config_rule_trigger_types = "ConfigurationItemChangeNotification"
  risk_level                = var.risk_level
  input_parameters          = local.rule_input_parameters

  exclude_resource_ids_scope = local.exclude_resource_ids_scope
  region_ids_scope           = local.region_ids_scope
  tag_key_scope              = var.tag_scope_key
  tag_value_scope            = var.tag_scope_value

  lifecycle {
    replace_triggered_by = [terraform_data.rule_scope]

    precondition {
      condition     = var.maximum_execution_frequency == null
      error_message = "maximum_execution_frequency is not supported with aggregator_id: alicloud_config_aggregate_config_rule in provider 1.240.0 takes a single trigger type (configuration change)."
    }
  }

  depends_on = [alicloud_resource_manager_service_linked_role.this]
}

# The remediation of this account's rule. In account-group mode the remediation belongs to
# the aggregate rule: modules/aggregate-remediation (provider >= 1.267.0, applied apart).
resource "alicloud_config_remediation" "this" {
  count = local.account_groups ? 0 : 1

  config_rule_id          = alicloud_config_rule.this[0].config_rule_id
  remediation_type        = "FC"
  remediation_source_type = "CUSTOM"
  # The FC 3.0 ARN, acs:fc:<region>:<account>:functions/<name>: what Alibaba Cloud's own
  # Terraform quickstart passes (README, "What was verified"); function_arn_for_config
  # switches to another form.
  remediation_template_id = local.function_arn_for_config
  invoke_type             = var.invoke_type
  # Cloud Config passes the non-compliant resources as the event; the function needs no parameters.
  params = "{}"

  depends_on = [alicloud_resource_manager_service_linked_role.this]
}

moved {
  from = alicloud_config_rule.this
  to   = alicloud_config_rule.this[0]
}

moved {
  from = alicloud_config_remediation.this
  to   = alicloud_config_remediation.this[0]
}

# Cloud Config's API lives in cn-shanghai (China site) or ap-southeast-1 (international);
# Alibaba Cloud's quickstart applies a remediation with its function in cn-shenzhen, but
# whether Config then invokes a function outside config_region could not be verified
# without an account. A warning, not an error: README, "Region".
check "function_region" {
  assert {
    condition     = local.region == var.config_region
    error_message = "The function goes to ${local.region} while Cloud Config's API is in ${var.config_region}. Alibaba Cloud's own quickstart does the same and applies, but invocation across regions is not verified: after apply, run one MANUAL_EXECUTION remediation (README, \"After apply\"), or deploy in ${var.config_region}."
  }
}
