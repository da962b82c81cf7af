output "function_name" {
  description = "Name of the remediation function."
  value       = alicloud_fcv3_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function: the remediation's template, and the custom rule's source."
  value       = alicloud_fcv3_function.this.function_arn
}

output "config_rule_id" {
  description = "ID of the Cloud Config rule (of the account group's rule in account-group mode)."
  value       = one(concat(alicloud_config_rule.this[*].config_rule_id, alicloud_config_aggregate_config_rule.this[*].config_rule_id))
}

output "config_rule_source" {
  description = "CUSTOM_FC (the function is the rule) or ALIYUN (managed rule sg-risky-ports-check)."
  value       = local.rule_source_owner
}

output "remediation_id" {
  description = "ID of the Cloud Config remediation; null in account-group mode (modules/aggregate-remediation creates it)."
  value       = one(alicloud_config_remediation.this[*].remediation_id)
}

output "role_arn" {
  description = "ARN of the RAM role the function runs with."
  value       = alicloud_ram_role.this.arn
}

output "role_name" {
  description = "Name of the function's RAM role (the member-role module's function_role_name)."
  value       = alicloud_ram_role.this.name
}

output "policy_name" {
  description = "Name of the function's custom RAM policy."
  value       = alicloud_ram_policy.this.policy_name
}

output "account_id" {
  description = "Account the function runs in (the member-role module's management_account_id)."
  value       = local.account_id
}

output "service_linked_role_names" {
  description = "Service-linked roles created by the module (empty with create_service_linked_roles = false)."
  value       = [for r in alicloud_resource_manager_service_linked_role.this : r.role_name]
}

output "log_project" {
  description = "Log Service project holding the function's logs."
  value       = local.log_project
}

output "logstore" {
  description = "Logstore holding the function's logs (and the backup of every revoked rule)."
  value       = local.logstore
}
