terraform {
  # >= 1.7: `terraform test` with mock_provider (tests/*.tftest.hcl).
  required_version = ">= 1.7"

  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # Tested with 1.240.0 (built offline by ../shared/tools/tf-offline.sh).
      # alicloud_fcv3_function needs >= 1.228.0, alicloud_log_project.project_name >= 1.223.0.
      version = ">= 1.240.0, < 2.0.0"
    }
  }
}
