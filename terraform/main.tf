data "alicloud_account" "current" {}

data "alicloud_regions" "current" {
  current = true
}

locals {
  account_id = data.alicloud_account.current.id
  region     = data.alicloud_regions.current.regions[0].id

  # `make package` writes dist/function.zip at the repository root; Terraform only reads it.
  function_zip_path = coalesce(var.function_zip_path, "${path.module}/../dist/function.zip")

  function_name    = var.name_prefix
  role_name        = "${var.name_prefix}-fc-role"
  policy_name      = "${var.name_prefix}-fc-policy"
  rule_name        = "${var.name_prefix}-sg-risky-ports-check"
  log_project_name = coalesce(var.log_project_name, "${var.name_prefix}-${local.account_id}")
  logstore_name    = "${var.name_prefix}-function"
}
