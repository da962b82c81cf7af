resource "alicloud_config_rule" "this" {
  rule_name                 = local.rule_name
  description               = "Managed rule sg-risky-ports-check; non-compliant security groups are remediated by the ${local.function_name} function."
  source_owner              = "ALIYUN"
  source_identifier         = "sg-risky-ports-check"
  resource_types_scope      = ["ACS::ECS::SecurityGroup"]
  config_rule_trigger_types = "ConfigurationItemChangeNotification"
  risk_level                = var.risk_level

  # One source of truth: the same value is the function's RISKY_PORTS.
  input_parameters = {
    ports = var.risky_ports
  }

  exclude_resource_ids_scope = length(var.excluded_resource_ids) > 0 ? join(",", var.excluded_resource_ids) : null
  region_ids_scope           = length(var.rule_region_ids) > 0 ? join(",", var.rule_region_ids) : null
  tag_key_scope              = var.tag_scope_key
  tag_value_scope            = var.tag_scope_value

  lifecycle {
    precondition {
      condition     = var.tag_scope_value == null || var.tag_scope_key != null
      error_message = "tag_scope_value needs tag_scope_key."
    }
  }
}

resource "alicloud_config_remediation" "this" {
  config_rule_id          = alicloud_config_rule.this.config_rule_id
  remediation_type        = "FC"
  remediation_source_type = "CUSTOM"
  remediation_template_id = alicloud_fcv3_function.this.function_arn
  invoke_type             = var.invoke_type
  # Cloud Config passes the non-compliant resources as the event; the function needs no parameters.
  params = "{}"
}
