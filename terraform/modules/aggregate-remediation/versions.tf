terraform {
  required_version = ">= 1.5"

  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # alicloud_config_aggregate_remediation exists since 1.267.0. Not validated offline
      # (only 1.240.0 is available there); written against the provider's own docs and
      # acceptance test of the resource. Apply it from its own root configuration: the root
      # module pins ~> 1.240.0, and one configuration holds one provider version.
      version = ">= 1.267.0, < 2.0.0"
    }
  }
}
