variable "aggregator_id" {
  description = "ID of the account group (ca-...): the root module's aggregator_id."
  type        = string

  validation {
    condition     = can(regex("^ca-[0-9a-zA-Z]+$", var.aggregator_id))
    error_message = "aggregator_id must be an account group ID (ca-...)."
  }
}

variable "config_rule_id" {
  description = "ID of the account group's rule: the root module's config_rule_id output."
  type        = string

  validation {
    condition     = can(regex("^cr-[0-9a-zA-Z]+$", var.config_rule_id))
    error_message = "config_rule_id must be a rule ID (cr-...)."
  }
}

variable "function_arn" {
  description = "ARN of the remediation function: the root module's function_arn output."
  type        = string

  validation {
    condition     = can(regex("^acs:fc:[a-z0-9-]+:[0-9]+:", var.function_arn))
    error_message = "function_arn must be a Function Compute ARN (acs:fc:<region>:<account>:...)."
  }
}

variable "invoke_type" {
  description = "AUTO_EXECUTION or MANUAL_EXECUTION (start with MANUAL_EXECUTION, as in the root module's careful rollout)."
  type        = string
  default     = "MANUAL_EXECUTION"
  nullable    = false

  validation {
    condition     = contains(["AUTO_EXECUTION", "MANUAL_EXECUTION"], var.invoke_type)
    error_message = "invoke_type must be AUTO_EXECUTION or MANUAL_EXECUTION."
  }
}

variable "remediation_origin_params" {
  description = "Parameters of the remediation (the API's Params). The function needs none, as with the single-account remediation's params = \"{}\"."
  type        = string
  default     = "{}"
  nullable    = false

  validation {
    condition     = can(jsondecode(var.remediation_origin_params))
    error_message = "remediation_origin_params must be a JSON document."
  }
}
