output "function_name" {
  description = "Name of the remediation function."
  value       = alicloud_fcv3_function.this.function_name
}

output "function_arn" {
  description = "ARN of the remediation function (the remediation's template)."
  value       = alicloud_fcv3_function.this.function_arn
}

output "config_rule_id" {
  description = "ID of the Cloud Config rule (managed rule sg-risky-ports-check)."
  value       = alicloud_config_rule.this.config_rule_id
}

output "remediation_id" {
  description = "ID of the Cloud Config remediation."
  value       = alicloud_config_remediation.this.remediation_id
}

output "role_arn" {
  description = "ARN of the RAM role the function runs with."
  value       = alicloud_ram_role.this.arn
}

output "log_project" {
  description = "Log Service project holding the function's logs."
  value       = alicloud_log_project.this.project_name
}

output "logstore" {
  description = "Logstore holding the function's logs (and the backup of every revoked rule)."
  value       = alicloud_log_store.this.logstore_name
}
