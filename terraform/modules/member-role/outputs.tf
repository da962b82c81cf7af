output "role_name" {
  description = "Name of the member role (the root module's member_role_name)."
  value       = alicloud_ram_role.this.name
}

output "role_arn" {
  description = "ARN of the member role."
  value       = alicloud_ram_role.this.arn
}

output "policy_name" {
  description = "Name of the member role's custom policy."
  value       = alicloud_ram_policy.this.policy_name
}
