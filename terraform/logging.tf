# The logs hold the backup line of every revoked rule, which `restore` reads: a destroy
# must not take them along. prevent_destroy cannot depend on a variable, so each resource
# comes twice: "protected" (protect_logs = true, the default) and "unprotected".
# create_log_project = false keeps the project out of the module altogether.

locals {
  create_project_protected   = var.create_log_project && var.protect_logs
  create_project_unprotected = var.create_log_project && !var.protect_logs
}

resource "alicloud_log_project" "protected" {
  count = local.create_project_protected ? 1 : 0

  project_name = local.log_project_name
  description  = "Logs of the ${local.function_name} function (remediation of ${local.rule_name}), including the backup of every revoked rule."
  tags         = length(var.tags) > 0 ? var.tags : null

  lifecycle {
    prevent_destroy = true
  }
}

resource "alicloud_log_project" "unprotected" {
  count = local.create_project_unprotected ? 1 : 0

  project_name = local.log_project_name
  description  = "Logs of the ${local.function_name} function (remediation of ${local.rule_name}), including the backup of every revoked rule."
  tags         = length(var.tags) > 0 ? var.tags : null
}

locals {
  # The project the logstore goes to: created above (so the logstore waits for it) or existing.
  log_project = one(concat(
    alicloud_log_project.protected[*].project_name,
    alicloud_log_project.unprotected[*].project_name,
    var.create_log_project ? [] : [local.log_project_name],
  ))
}

resource "alicloud_log_store" "protected" {
  count = var.protect_logs ? 1 : 0

  project_name     = local.log_project
  logstore_name    = local.logstore_name
  retention_period = var.log_retention_days

  lifecycle {
    prevent_destroy = true

    precondition {
      condition     = var.create_log_project || var.log_project_name != null
      error_message = "create_log_project = false needs log_project_name: the existing Log Service project to put the logstore in."
    }
  }
}

resource "alicloud_log_store" "unprotected" {
  count = var.protect_logs ? 0 : 1

  project_name     = local.log_project
  logstore_name    = local.logstore_name
  retention_period = var.log_retention_days

  lifecycle {
    precondition {
      condition     = var.create_log_project || var.log_project_name != null
      error_message = "create_log_project = false needs log_project_name: the existing Log Service project to put the logstore in."
    }
  }
}

locals {
  logstore = one(concat(alicloud_log_store.protected[*].logstore_name, alicloud_log_store.unprotected[*].logstore_name))
}

# Full-text index, so the logs (including the backup line of every revoked rule,
# which `restore` reads) can be searched and exported.
resource "alicloud_log_store_index" "this" {
  project  = local.log_project
  logstore = local.logstore

  full_text {
    case_sensitive = false
    token          = ", '\";=()[]{}?@&<>/:\n\t\r"
  }
}

# State written by earlier versions of the module (one unprotected-by-default resource each).
moved {
  from = alicloud_log_project.this
  to   = alicloud_log_project.protected[0]
}

moved {
  from = alicloud_log_store.this
  to   = alicloud_log_store.protected[0]
}
