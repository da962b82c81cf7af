# Careful first step: everything is deployed, nothing is revoked, nothing runs on its own.
# The function evaluates the groups (custom rule) and reports would-revoke; a person runs
# the remediation by hand on a test group and reads the log (README, "Careful rollout").
#
#   make package                       # in the sg-remediation repository: dist/function.zip
#   terraform init && terraform apply -var function_zip_path=/path/to/dist/function.zip

terraform {
  required_version = ">= 1.5"

  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = "~> 1.240.0"
    }
  }
}

provider "alicloud" {
  # Beside Cloud Config's API: cn-shanghai (China site) or ap-southeast-1 (international).
  region = var.region
}

module "sg_remediation" {
  # From git: source = "git::https://<your git host>/sg-remediation.git//terraform?ref=<tag>"
  source = "../.."

  # Required outside the repository: the default path points outside the module.
  function_zip_path = var.function_zip_path

  config_region = var.region
  invoke_type   = "MANUAL_EXECUTION"
  dry_run       = true

  # AliyunServiceRoleForConfig exists once Cloud Config has been enabled in the console;
  # leave this true only in an account where neither service-linked role exists yet.
  create_service_linked_roles = var.create_service_linked_roles
}
