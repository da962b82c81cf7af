resource "alicloud_log_project" "this" {
  project_name = local.log_project_name
  description  = "Logs of the ${local.function_name} function (remediation of ${local.rule_name})."
}

resource "alicloud_log_store" "this" {
  project_name     = alicloud_log_project.this.project_name
  logstore_name    = local.logstore_name
  retention_period = var.log_retention_days
}

# Full-text index, so the logs (including the backup line of every revoked rule,
# which `restore` reads) can be searched and exported.
resource "alicloud_log_store_index" "this" {
  project  = alicloud_log_project.this.project_name
  logstore = alicloud_log_store.this.logstore_name

  full_text {
    case_sensitive = false
    token          = ", '\";=()[]{}?@&<>/:\n\t\r"
  }
}
