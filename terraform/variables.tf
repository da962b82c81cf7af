################################################################################
# Naming and packaging
################################################################################

variable "name_prefix" {
  description = "Prefix of every resource name (function, RAM role and policy, Config rule, logstore). Lowercase letters, digits and hyphens."
  type        = string
  default     = "sg-remediation"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "function_zip_path" {
  description = "Path of the function package built by `make package` (dist/function.zip). Required when the module is used from git or a registry; null means `<module>/../dist/function.zip`, which exists only inside this repository."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource that takes tags with provider 1.240.0 (the Log Service project). Other resources of the module have no tags argument in that version."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Function Compute
################################################################################

variable "function_memory_size" {
  description = "Memory of the function in MB (128..32768, a multiple of 64). The vCPU is derived from it (1 vCPU per GB, at least 0.05)."
  type        = number
  default     = 256

  validation {
    condition     = var.function_memory_size >= 128 && var.function_memory_size <= 32768 && var.function_memory_size % 64 == 0
    error_message = "function_memory_size must be between 128 and 32768 MB and a multiple of 64."
  }
}

variable "function_timeout" {
  description = "Function timeout in seconds (1..86400). The default leaves room for a 1000-resource event with throttling retries."
  type        = number
  default     = 900

  validation {
    condition     = var.function_timeout >= 1 && var.function_timeout <= 86400 && floor(var.function_timeout) == var.function_timeout
    error_message = "function_timeout must be a whole number of seconds between 1 and 86400 (the Function Compute limit)."
  }
}

variable "log_project_name" {
  description = "Name of the Log Service project for the function's logs. Project names are unique across Alibaba Cloud; null means `<name_prefix>-<account id>`."
  type        = string
  default     = null

  validation {
    condition     = var.log_project_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.log_project_name))
    error_message = "log_project_name must be 3-63 characters: lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "create_log_project" {
  description = "Create the Log Service project. false: use an existing project named log_project_name (kept outside the module's lifecycle, so a destroy never deletes it); the module still creates its logstore in it."
  type        = bool
  default     = true
  nullable    = false
}

variable "protect_logs" {
  description = "The logs hold the backup of every revoked rule, which `restore` needs: with true (default) the project and logstore carry prevent_destroy, so `terraform destroy` stops instead of deleting them (README, \"Destroy\"). false only for throw-away deployments."
  type        = bool
  default     = true
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the function's logs in days (1..3650). The logs hold the backup of every revoked rule, which `restore` needs."
  type        = number
  default     = 180

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650 && floor(var.log_retention_days) == var.log_retention_days
    error_message = "log_retention_days must be a whole number between 1 and 3650."
  }
}

################################################################################
# Remediation behaviour (function environment)
################################################################################

variable "risky_ports" {
  description = "Comma-separated ports or ranges (e.g. \"22,3389,3306,1433-1434\"), each 1..65535, no spaces. Sent to the function (RISKY_PORTS) and to the Config rule (`ports`)."
  type        = string
  default     = "22,3389,3306"

  validation {
    condition = try(alltrue([
      for p in split(",", var.risky_ports) :
      can(regex("^[0-9]{1,5}(-[0-9]{1,5})?$", p)) &&
      alltrue([for n in split("-", p) : tonumber(n) >= 1 && tonumber(n) <= 65535]) &&
      tonumber(split("-", p)[0]) <= tonumber(reverse(split("-", p))[0])
    ]), false)
    error_message = "risky_ports must be a comma-separated list of ports or ranges (e.g. \"22,3389,3306\" or \"1433-1434\"), each port between 1 and 65535, ranges low-high, no spaces."
  }
}

variable "dry_run" {
  description = "When true the function selects and reports risky rules but revokes nothing (outcome `would-revoke`)."
  type        = bool
  default     = false
}

variable "exempt_tag" {
  description = "Tag that exempts a security group from remediation: `key=value` or `key`."
  type        = string
  default     = "sg-remediation=exempt"

  validation {
    condition     = can(regex("^[^=,]+(=[^,]+)?$", var.exempt_tag))
    error_message = "exempt_tag must be `key=value` or `key` with a non-empty key (no commas)."
  }
}

variable "allowed_cidrs" {
  description = "Restrict mode: re-create each revoked rule for these IPv4/IPv6 CIDRs instead of closing the port. Empty = off. Setting it also grants ecs:AuthorizeSecurityGroup."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "Every allowed_cidrs entry must be a valid IPv4 or IPv6 CIDR block such as 203.0.113.0/24 or 2001:db8::/32."
  }

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : !contains(["0.0.0.0/0", "::/0"], c) && try(tonumber(split("/", c)[1]) > 0, true)])
    error_message = "allowed_cidrs must not contain 0.0.0.0/0, ::/0 or any other /0: that would re-open the port to the whole internet."
  }
}

variable "config_region" {
  description = "Region of the Cloud Config API the function calls: cn-shanghai (China site) or ap-southeast-1 (international site)."
  type        = string
  default     = "cn-shanghai"

  validation {
    condition     = contains(["cn-shanghai", "ap-southeast-1"], var.config_region)
    error_message = "config_region must be \"cn-shanghai\" (China site) or \"ap-southeast-1\" (international site)."
  }
}

variable "config_endpoint" {
  description = "Override of the Cloud Config API endpoint (CONFIG_ENDPOINT), e.g. a VPC endpoint. Empty = derived from config_region."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.config_endpoint == "" || can(regex("^(https?://)?[A-Za-z0-9.-]+(:[0-9]+)?/?$", var.config_endpoint))
    error_message = "config_endpoint must be empty or a host name, optionally with http:// or https:// and a port."
  }
}

variable "ecs_endpoint" {
  description = "Override of the ECS API endpoint (ECS_ENDPOINT), e.g. a VPC endpoint. Empty = ecs.<regionId>.aliyuncs.com per resource."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.ecs_endpoint == "" || can(regex("^(https?://)?[A-Za-z0-9.-]+(:[0-9]+)?/?$", var.ecs_endpoint))
    error_message = "ecs_endpoint must be empty or a host name, optionally with http:// or https:// and a port."
  }
}

variable "sts_endpoint" {
  description = "Override of the STS endpoint (STS_ENDPOINT), used in account-group mode. Empty = sts.<function region>.aliyuncs.com."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.sts_endpoint == "" || can(regex("^(https?://)?[A-Za-z0-9.-]+(:[0-9]+)?/?$", var.sts_endpoint))
    error_message = "sts_endpoint must be empty or a host name, optionally with http:// or https:// and a port."
  }
}

variable "max_calls_per_second" {
  description = "Upper bound on cloud API calls per second, per region and API action (MAX_CALLS_PER_SECOND). null or 0 = adaptive only (back off on throttling)."
  type        = number
  default     = null

  validation {
    condition     = var.max_calls_per_second == null || try(var.max_calls_per_second >= 0 && var.max_calls_per_second <= 10000, false)
    error_message = "max_calls_per_second must be null, 0 (adaptive only) or a positive number of calls per second (at most 10000)."
  }
}

variable "max_concurrency" {
  description = "Resources of one event processed at once (1..64); also the bound on cloud calls in flight."
  type        = number
  default     = 8

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 64 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number between 1 and 64."
  }
}

################################################################################
# Cloud Config rule and remediation
################################################################################

variable "invoke_type" {
  description = "How Cloud Config runs the remediation: AUTO_EXECUTION (on every non-compliant evaluation) or MANUAL_EXECUTION (from the console/API)."
  type        = string
  default     = "AUTO_EXECUTION"

  validation {
    condition     = contains(["AUTO_EXECUTION", "MANUAL_EXECUTION"], var.invoke_type)
    error_message = "invoke_type must be AUTO_EXECUTION or MANUAL_EXECUTION."
  }
}

variable "risk_level" {
  description = "Risk level of the Config rule: 1 critical, 2 warning, 3 info."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2, 3], var.risk_level)
    error_message = "risk_level must be 1 (critical), 2 (warning) or 3 (info)."
  }
}

variable "excluded_resource_ids" {
  description = "Security group IDs the Config rule does not evaluate (and so never remediates)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.excluded_resource_ids : can(regex("^sg-[0-9a-zA-Z]+$", id))])
    error_message = "Every excluded_resource_ids entry must be a security group ID (sg-...)."
  }
}

variable "rule_region_ids" {
  description = "Regions the Config rule evaluates. Empty = all regions."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for r in var.rule_region_ids : can(regex("^[a-z]{2}(-[a-z0-9]+)+$", r))])
    error_message = "Every rule_region_ids entry must be a region ID such as cn-hangzhou."
  }
}

variable "tag_scope_key" {
  description = "Only evaluate security groups carrying this tag: set tag_scope_key and tag_scope_value together (the API takes TagKeyScope and TagValueScope as a pair), or neither."
  type        = string
  default     = null

  validation {
    condition     = var.tag_scope_key == null || try(length(trimspace(var.tag_scope_key)) > 0, false)
    error_message = "tag_scope_key must be null or a non-empty tag key."
  }
}

variable "tag_scope_value" {
  description = "With tag_scope_key: the tag value of the groups to evaluate. Both or neither."
  type        = string
  default     = null

  validation {
    condition     = var.tag_scope_value == null || try(length(trimspace(var.tag_scope_value)) > 0, false)
    error_message = "tag_scope_value must be null or a non-empty tag value."
  }
}

variable "rule_source" {
  description = "What evaluates the security groups: \"custom\" (default) the function itself is a Config custom rule (CUSTOM_FC), so detection and remediation use one decision table; \"managed\" the managed rule sg-risky-ports-check."
  type        = string
  default     = "custom"
  nullable    = false

  validation {
    condition     = contains(["custom", "managed"], var.rule_source)
    error_message = "rule_source must be \"custom\" (the function is the rule) or \"managed\" (sg-risky-ports-check)."
  }
}

variable "maximum_execution_frequency" {
  description = "Besides on configuration change, also evaluate periodically at this frequency: One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours. null = on configuration change only."
  type        = string
  default     = null

  validation {
    condition     = var.maximum_execution_frequency == null || contains(["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"], coalesce(var.maximum_execution_frequency, "-"))
    error_message = "maximum_execution_frequency must be null or one of One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours."
  }
}

################################################################################
# Service-linked roles
################################################################################

variable "create_service_linked_roles" {
  description = "Create the service-linked roles Cloud Config needs to run the rule and the remediation (AliyunServiceRoleForConfig, AliyunServiceRoleForConfigRemediation). Set false (or import them) when they already exist: creating an existing one fails (README, \"Prerequisites\")."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Account groups (Resource Directory): one function for many accounts
################################################################################

variable "aggregator_id" {
  description = "Account group mode: ID of the Cloud Config account group (aggregator, ca-...). The rule is created on the account group and the function reads configurations with GetAggregateDiscoveredResource (AGGREGATOR_ID). Empty = this account only."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.aggregator_id == "" || can(regex("^ca-[0-9a-zA-Z]+$", var.aggregator_id))
    error_message = "aggregator_id must be empty or an account group ID (ca-...)."
  }
}

variable "member_role_name" {
  description = "Account group mode: name of the RAM role in every member account that the function assumes for ECS calls there (MEMBER_ROLE_NAME; create it with modules/member-role). Grants sts:AssumeRole on exactly acs:ram::*:role/<member_role_name>."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.member_role_name == "" || can(regex("^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$", var.member_role_name))
    error_message = "member_role_name must be empty or a RAM role name (letters, digits, periods and hyphens, at most 64 characters)."
  }
}

################################################################################
# Exceptions: accepted risk with an owner and an end date
################################################################################

variable "exceptions" {
  description = "Accepted exposures (EXCEPTIONS). Each: group (sg-..., required), rule (sgr-...), ports (RISKY_PORTS syntax), region, account (16 digits) optional; until (YYYY-MM-DD or RFC 3339), owner and reason required. Rendered as JSON into the function's environment (4 KB in all, checked at plan)."
  type = list(object({
    group   = string
    rule    = optional(string)
    ports   = optional(string)
    region  = optional(string)
    account = optional(string)
    until   = string
    owner   = string
    reason  = string
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for e in var.exceptions : can(regex("^sg-[0-9a-zA-Z]+$", e.group))])
    error_message = "Every exception needs group, a security group ID (sg-...)."
  }

  validation {
    condition     = alltrue([for e in var.exceptions : try(length(trimspace(e.owner)) > 0 && length(trimspace(e.reason)) > 0, false)])
    error_message = "Every exception needs a non-empty owner and reason."
  }

  validation {
    condition = alltrue([for e in var.exceptions : (
      can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", e.until)) ? can(formatdate("YYYY", "${e.until}T00:00:00Z")) : can(formatdate("YYYY", e.until))
    )])
    error_message = "Every exception's until must be a date YYYY-MM-DD (through the end of that day, UTC) or an RFC 3339 time such as 2026-12-31T18:00:00+08:00."
  }

  validation {
    condition     = alltrue([for e in var.exceptions : e.rule == null || can(regex("^sgr-[0-9a-zA-Z]+$", coalesce(e.rule, "-")))])
    error_message = "An exception's rule must be a security group rule ID (sgr-...)."
  }

  validation {
    condition     = alltrue([for e in var.exceptions : e.account == null || can(regex("^[0-9]{16}$", coalesce(e.account, "-")))])
    error_message = "An exception's account must be a 16-digit account ID."
  }

  validation {
    condition     = alltrue([for e in var.exceptions : e.region == null || can(regex("^[a-z]{2}(-[a-z0-9]+)+$", coalesce(e.region, "-")))])
    error_message = "An exception's region must be a region ID such as cn-hangzhou."
  }

  validation {
    condition = alltrue([for e in var.exceptions : e.ports == null || try(alltrue([
      for p in split(",", e.ports) :
      can(regex("^[0-9]{1,5}(-[0-9]{1,5})?$", p)) &&
      alltrue([for n in split("-", p) : tonumber(n) >= 1 && tonumber(n) <= 65535]) &&
      tonumber(split("-", p)[0]) <= tonumber(reverse(split("-", p))[0])
    ]), false)])
    error_message = "An exception's ports must use the risky_ports syntax: ports or low-high ranges 1..65535, comma-separated, no spaces."
  }
}

variable "max_exception_days" {
  description = "An exception may end at most this many days after today, UTC (MAX_EXCEPTION_DAYS). Checked at plan time and again by the function on every invocation."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.max_exception_days >= 1 && var.max_exception_days <= 3650 && floor(var.max_exception_days) == var.max_exception_days
    error_message = "max_exception_days must be a whole number of days between 1 and 3650."
  }
}

################################################################################
# Notifications
################################################################################

variable "notify_urls" {
  description = "Webhook URLs told about each invocation (NOTIFY_URL, comma-joined): DingTalk, Lark/Feishu, WeCom, Slack robots or any JSON endpoint; prefixes dingtalk+, feishu+, wecom+, slack+, json+ set the kind. https:// only (http:// to loopback). Sensitive: the token is in the URL."
  type        = list(string)
  default     = []
  nullable    = false
  sensitive   = true

  validation {
    condition = alltrue([for u in var.notify_urls : (
      can(regex("^((dingtalk|feishu|wecom|slack|json)\\+)?https://[^\\s,]+$", u)) ||
      can(regex("^((dingtalk|feishu|wecom|slack|json)\\+)?http://(127\\.[0-9.]+|localhost|\\[::1\\])(:[0-9]+)?(/[^\\s,]*)?$", u))
    )])
    error_message = "Every notify_urls entry must be an https:// URL without commas or spaces (http:// only to a loopback address), optionally prefixed with dingtalk+, feishu+, wecom+, slack+ or json+."
  }
}

variable "notify_secret" {
  description = "Signing secret of DingTalk or Lark/Feishu robots that require one (NOTIFY_SECRET). Empty = unsigned."
  type        = string
  default     = ""
  nullable    = false
  sensitive   = true
}

variable "notify_on" {
  description = "Outcomes that cause a message (NOTIFY_ON): any of revoked, would-revoke, failed, excepted, skipped, compliant."
  type        = list(string)
  default     = ["revoked", "would-revoke", "failed"]
  nullable    = false

  validation {
    condition     = length(var.notify_on) > 0 && alltrue([for o in var.notify_on : contains(["revoked", "would-revoke", "failed", "excepted", "skipped", "compliant"], o)])
    error_message = "notify_on must list one or more of revoked, would-revoke, failed, excepted, skipped, compliant."
  }
}

variable "function_arn_for_config" {
  description = "The ARN Cloud Config is given for the function (remediation template, and source of the custom rule). null = the FC 3.0 ARN acs:fc:<region>:<account>:functions/<name>, as Alibaba Cloud's own Terraform quickstart uses. Set the FC 2.0 form acs:fc:<region>:<account>:services/<service>.LATEST/functions/<name> only if the check in the README (\"After apply\") shows Config does not invoke the FC 3.0 ARN."
  type        = string
  default     = null

  validation {
    condition     = var.function_arn_for_config == null || can(regex("^acs:fc:[a-z0-9-]+:[0-9]+:(services/[^/]+/)?functions/[^/]+$", coalesce(var.function_arn_for_config, "-")))
    error_message = "function_arn_for_config must be null or a Function Compute function ARN: acs:fc:<region>:<account>:functions/<name> or acs:fc:<region>:<account>:services/<service>.LATEST/functions/<name>."
  }
}
