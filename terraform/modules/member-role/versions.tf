terraform {
  required_version = ">= 1.5"

  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # Tested with 1.240.0 only, like the root module (its README, "Provider versions").
      version = "~> 1.240.0"
    }
  }
}
