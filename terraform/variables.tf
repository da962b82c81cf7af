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
  description = "Path of the function package built by `make package`. null means `<module>/../dist/function.zip`."
  type        = string
  default     = null
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
  description = "Only evaluate security groups carrying this tag key. null = no tag scope."
  type        = string
  default     = null

  validation {
    condition     = var.tag_scope_key == null || try(length(trimspace(var.tag_scope_key)) > 0, false)
    error_message = "tag_scope_key must be null or a non-empty tag key."
  }
}

variable "tag_scope_value" {
  description = "With tag_scope_key: only evaluate security groups whose tag has this value. null = any value."
  type        = string
  default     = null
}
