output "function_arn" {
  description = "Input of modules/aggregate-remediation."
  value       = module.sg_remediation.function_arn
}

output "config_rule_id" {
  description = "The account group's rule; input of modules/aggregate-remediation."
  value       = module.sg_remediation.config_rule_id
}

output "member_role_arn" {
  description = "The member account's role."
  value       = module.member_role.role_arn
}

output "logs" {
  description = "Where the backups are."
  value       = "${module.sg_remediation.log_project}/${module.sg_remediation.logstore}"
}
