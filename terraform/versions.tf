terraform {
  # >= 1.5: plantimestamp() and strcontains() (exception dates, checks). The offline tests
  # (tests/*.tftest.hcl, mock_provider) need >= 1.7; tf-check runs 1.11.
  required_version = ">= 1.5"

  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # Only 1.240.0 is tested (built offline by ../shared/tools/tf-offline.sh; every argument
      # used here was read in its source). 1.252+ deprecates alicloud_ram_role.name/document
      # and reworks alicloud_fcv3_function: untested. To move up, build the new version with
      # ALICLOUD_VERSION=1.x.y tf-offline.sh, widen this constraint, and run make tf-check and
      # a MANUAL_EXECUTION remediation in a test account (README, "Provider versions").
      version = "~> 1.240.0"
    }
  }
}
