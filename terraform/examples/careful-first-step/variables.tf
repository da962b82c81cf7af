variable "function_zip_path" {
  description = "Path of dist/function.zip built by `make package` in the sg-remediation repository."
  type        = string
}

variable "region" {
  description = "Region of the function and of Cloud Config's API: cn-shanghai or ap-southeast-1."
  type        = string
  default     = "cn-shanghai"
}

variable "create_service_linked_roles" {
  description = "Create Cloud Config's service-linked roles (false when they already exist)."
  type        = bool
  default     = false
}
