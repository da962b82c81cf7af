locals {
  function_environment = merge(
    {
      RISKY_PORTS     = var.risky_ports
      DRY_RUN         = tostring(var.dry_run)
      EXEMPT_TAG      = var.exempt_tag
      CONFIG_REGION   = var.config_region
      MAX_CONCURRENCY = tostring(var.max_concurrency)
    },
    length(var.allowed_cidrs) > 0 ? { ALLOWED_CIDRS = join(",", var.allowed_cidrs) } : {},
  )

  # FC v3 wants vCPU in steps of 0.05 and memory (GB) between 1x and 4x the vCPU:
  # 1 vCPU per GB, rounded down to the step, at least 0.05, at most 16.
  function_cpu = min(16, max(1, floor(var.function_memory_size * 20 / 1024)) / 20)
}

resource "alicloud_fcv3_function" "this" {
  function_name = local.function_name
  description   = "Remediates ${local.rule_name}: revokes ECS security group ingress rules that open risky ports to the internet."
  runtime       = "go1"
  handler       = "main"
  role          = alicloud_ram_role.this.arn
  memory_size   = var.function_memory_size
  cpu           = local.function_cpu
  timeout       = var.function_timeout

  # A new zip (make package) changes zip_file and so redeploys the code. A missing zip
  # stops the plan at the precondition below, before this is read.
  code {
    zip_file = filebase64(local.function_zip_path)
  }

  environment_variables = local.function_environment

  log_config {
    project  = alicloud_log_project.this.project_name
    logstore = alicloud_log_store.this.logstore_name
    # One JSON line = one log entry (DefaultRegex would merge lines not starting with a date).
    log_begin_rule = "None"
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.function_zip_path)
      error_message = "Function package ${local.function_zip_path} not found: run `make package` (or `make deploy`) first, or set function_zip_path."
    }
  }

  # The role must carry its policy (logs included) before FC uses it.
  depends_on = [alicloud_ram_role_policy_attachment.this, alicloud_log_store_index.this]
}
