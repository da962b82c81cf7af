locals {
  # Exceptions as the function reads them: a JSON array, empty optional fields left out.
  exceptions_json = length(var.exceptions) > 0 ? jsonencode([
    for e in var.exceptions : { for k, v in e : k => v if v != null }
  ]) : ""

  # Every setting of the function (contract, sections 4 and 6-8), each set only when it is
  # not empty. NOTIFY_URL (tokens in the URLs) and NOTIFY_SECRET stay marked sensitive one
  # by one, so the plan shows them as (sensitive value) and everything else in clear.
  function_environment = merge(
    { for k, v in {
      RISKY_PORTS          = var.risky_ports
      DRY_RUN              = tostring(var.dry_run)
      EXEMPT_TAG           = var.exempt_tag
      CONFIG_REGION        = var.config_region
      CONFIG_ENDPOINT      = var.config_endpoint
      ECS_ENDPOINT         = var.ecs_endpoint
      STS_ENDPOINT         = var.sts_endpoint
      MAX_CONCURRENCY      = tostring(var.max_concurrency)
      ALLOWED_CIDRS        = join(",", var.allowed_cidrs)
      AGGREGATOR_ID        = var.aggregator_id
      MEMBER_ROLE_NAME     = var.member_role_name
      EXCEPTIONS           = local.exceptions_json
      MAX_EXCEPTION_DAYS   = length(var.exceptions) > 0 || var.max_exception_days != 90 ? tostring(var.max_exception_days) : ""
      NOTIFY_ON            = local.notify ? join(",", var.notify_on) : ""
      MAX_CALLS_PER_SECOND = coalesce(var.max_calls_per_second, 0) > 0 ? tostring(var.max_calls_per_second) : ""
    } : k => v if v != "" },
    { for k, v in {
      NOTIFY_URL    = join(",", var.notify_urls)
      NOTIFY_SECRET = var.notify_secret
    } : k => v if nonsensitive(v != "") },
  )
  # Whether any URL is set is no secret (the URLs are).
  notify = nonsensitive(length(var.notify_urls) > 0)

  # FC documents one limit: all environment variables together at most 4 KB. Counted here
  # as the bytes of the map's JSON encoding, which is never less than the keys and values
  # themselves (base64 length * 3/4 = bytes, rounded up to a multiple of 3).
  environment_limit_bytes = 4096
  environment_bytes       = nonsensitive(sensitive(floor(length(base64encode(jsonencode(local.function_environment))) * 3 / 4)))

  # Exceptions may end at most max_exception_days after today (UTC), through the end of that
  # day: the same rule the function applies on every invocation.
  exception_limit = timeadd(formatdate("YYYY-MM-DD'T'00:00:00Z", plantimestamp()), "${(var.max_exception_days + 1) * 24}h")
  exceptions_too_late = [
    for e in var.exceptions : e.group
    if try(timecmp(
      can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", e.until)) ? timeadd("${e.until}T00:00:00Z", "24h") : e.until,
      local.exception_limit
    ) > 0, false)
  ]

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
    project  = local.log_project
    logstore = local.logstore
    # One JSON line = one log entry (DefaultRegex would merge lines not starting with a date).
    log_begin_rule = "None"
  }

  lifecycle {
    precondition {
      condition = fileexists(local.function_zip_path)
      error_message = (var.function_zip_path == null
        ? "Function package ${local.function_zip_path} not found. Inside this repository run `make package` first. Used from git or a registry, set function_zip_path to the dist/function.zip you built (the default points outside the module)."
        : "Function package ${local.function_zip_path} (function_zip_path) not found: build it with `make package` and point function_zip_path at it."
      )
    }

    precondition {
      condition     = local.environment_bytes <= local.environment_limit_bytes
      error_message = "The function's environment would be ${local.environment_bytes} bytes; Function Compute allows 4096 in all. Shorten or remove exceptions (each costs about 150-250 bytes), notify_urls or allowed_cidrs."
    }

    precondition {
      condition     = length(local.exceptions_too_late) == 0
      error_message = "Exceptions for ${join(", ", local.exceptions_too_late)} end more than max_exception_days (${var.max_exception_days}) days after today (UTC); the function would refuse every invocation. Shorten until or raise max_exception_days."
    }
  }

  # The role must carry its policy (logs included) before FC uses it.
  depends_on = [alicloud_ram_role_policy_attachment.this, alicloud_log_store_index.this]
}
