variable "management_account_id" {
  description = "Account in which the remediation function runs (the root module's account_id output): the only account trusted by this role."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{16}$", var.management_account_id))
    error_message = "management_account_id must be a 16-digit account ID."
  }
}

variable "function_role_name" {
  description = "Name of the function's RAM role in the management account (the root module's role_name output, default sg-remediation-fc-role): the only principal allowed to assume this role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$", var.function_role_name))
    error_message = "function_role_name must be a RAM role name (letters, digits, periods and hyphens, at most 64 characters)."
  }
}

variable "role_name" {
  description = "Name of the role created in this member account; the root module's member_role_name must be the same in every member."
  type        = string
  default     = "sg-remediation-member"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$", var.role_name))
    error_message = "role_name must be a RAM role name (letters, digits, periods and hyphens, at most 64 characters)."
  }
}

variable "restrict_mode" {
  description = "Set true when the root module uses allowed_cidrs (restrict mode): the function then also re-creates narrowed rules here, which needs ecs:AuthorizeSecurityGroup."
  type        = bool
  default     = false
  nullable    = false
}

variable "max_session_duration" {
  description = "Longest session, in seconds, the function may assume the role for (3600..43200). The function asks for 900..3600."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200 && floor(var.max_session_duration) == var.max_session_duration
    error_message = "max_session_duration must be a whole number of seconds between 3600 and 43200."
  }
}
