output "remediation_id" {
  description = "ID of the account group's remediation."
  value       = alicloud_config_aggregate_remediation.this.remediation_id
}
