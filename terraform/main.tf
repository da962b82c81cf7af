data "alicloud_account" "current" {}

data "alicloud_regions" "current" {
  current = true
}

locals {
  account_id = data.alicloud_account.current.id
  region     = data.alicloud_regions.current.regions[0].id

  # `make package` writes dist/function.zip at the repository root; Terraform only reads it.
  # From git or a registry that path does not exist: function_zip_path is then required.
  default_zip_path  = "${path.module}/../dist/function.zip"
  function_zip_path = coalesce(var.function_zip_path, local.default_zip_path)

  function_name    = var.name_prefix
  role_name        = "${var.name_prefix}-fc-role"
  policy_name      = "${var.name_prefix}-fc-policy"
  rule_name        = "${var.name_prefix}-sg-risky-ports-check"
  logstore_name    = "${var.name_prefix}-function"
  log_project_name = coalesce(var.log_project_name, var.create_log_project ? "${var.name_prefix}-${local.account_id}" : "-")

  # Modes.
  custom_rule    = var.rule_source == "custom"
  account_groups = var.aggregator_id != ""
  restrict_mode  = length(var.allowed_cidrs) > 0
}
