variable "function_zip_path" {
  description = "Path of dist/function.zip built by `make package` in the sg-remediation repository."
  type        = string
}

variable "region" {
  description = "Region of the function and of Cloud Config's API: cn-shanghai or ap-southeast-1."
  type        = string
  default     = "cn-shanghai"
}

variable "aggregator_id" {
  description = "The Resource Directory account group (ca-...)."
  type        = string
}

variable "member_account_id" {
  description = "One member account, for the member-role example."
  type        = string
}

variable "notify_urls" {
  description = "Webhook URLs, e.g. a DingTalk robot's https://oapi.dingtalk.com/robot/send?access_token=..."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "notify_secret" {
  description = "The robot's signing secret (SEC...)."
  type        = string
  default     = ""
  sensitive   = true
}
