# The remediation of the account group's rule (account-group mode of the root module).
# Written against the docs and acceptance test of alicloud_config_aggregate_remediation
# (provider >= 1.267.0): aggregator_id, config_rule_id, remediation_type "FC",
# remediation_source_type "CUSTOM", remediation_template_id, invoke_type and
# remediation_origin_params (the API's Params; required by the resource).
resource "alicloud_config_aggregate_remediation" "this" {
  aggregator_id             = var.aggregator_id
  config_rule_id            = var.config_rule_id
  remediation_type          = "FC"
  remediation_source_type   = "CUSTOM"
  remediation_template_id   = var.function_arn
  invoke_type               = var.invoke_type
  remediation_origin_params = var.remediation_origin_params
}
