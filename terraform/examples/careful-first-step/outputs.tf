output "function_name" {
  description = "The remediation function."
  value       = module.sg_remediation.function_name
}

output "config_rule_id" {
  description = "The rule; its page in the Cloud Config console runs the remediation by hand."
  value       = module.sg_remediation.config_rule_id
}

output "remediation_id" {
  description = "The remediation (MANUAL_EXECUTION)."
  value       = module.sg_remediation.remediation_id
}

output "logs" {
  description = "Where the would-revoke lines and the backups are."
  value       = "${module.sg_remediation.log_project}/${module.sg_remediation.logstore}"
}
