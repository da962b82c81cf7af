# Clearing a rule scope (#17). Provider 1.240.0 leaves a scope out of UpdateConfigRule when
# it is empty, so Cloud Config would keep the old value; the module replaces the rule
# instead. Here the mock gives every created rule a new random ID, so a replacement shows
# as a changed config_rule_id, an in-place update as the same one.

mock_provider "alicloud" {
  mock_data "alicloud_account" {
    defaults = {
      id = "1234567890123456"
    }
  }

  mock_data "alicloud_regions" {
    defaults = {
      regions = [{ id = "cn-shanghai", region_id = "cn-shanghai", local_name = "China (Shanghai)" }]
    }
  }
}

variables {
  function_zip_path           = "tests/fixtures/function.zip"
  rule_source                 = "managed"
  create_service_linked_roles = false
  protect_logs                = false
}

run "scoped" {
  command = apply

  variables {
    excluded_resource_ids = ["sg-aaa111", "sg-bbb222"]
    rule_region_ids       = ["cn-hangzhou"]
  }

  assert {
    condition     = alicloud_config_rule.this[0].exclude_resource_ids_scope == "sg-aaa111,sg-bbb222" && alicloud_config_rule.this[0].region_ids_scope == "cn-hangzhou"
    error_message = "The scopes must reach the rule."
  }
}

run "scope_changed_in_place" {
  command = apply

  variables {
    excluded_resource_ids = ["sg-aaa111"]
    rule_region_ids       = ["cn-hangzhou", "cn-beijing"]
  }

  assert {
    condition     = output.config_rule_id == run.scoped.config_rule_id
    error_message = "Changing a scope that stays set updates the rule in place."
  }
}

run "scope_cleared_replaces_rule" {
  command = apply

  variables {
    excluded_resource_ids = []
    rule_region_ids       = ["cn-hangzhou", "cn-beijing"]
  }

  assert {
    condition     = alicloud_config_rule.this[0].exclude_resource_ids_scope == null
    error_message = "An empty list sends no scope (null, never an empty string)."
  }

  assert {
    condition     = output.config_rule_id != run.scope_changed_in_place.config_rule_id
    error_message = "Emptying a scope must replace the rule, so that no old value stays behind in Cloud Config."
  }

  assert {
    condition     = alicloud_config_remediation.this[0].config_rule_id == output.config_rule_id
    error_message = "The remediation follows the new rule."
  }
}

run "nothing_changed_keeps_rule" {
  command = apply

  variables {
    excluded_resource_ids = []
    rule_region_ids       = ["cn-hangzhou", "cn-beijing"]
  }

  assert {
    condition     = output.config_rule_id == run.scope_cleared_replaces_rule.config_rule_id
    error_message = "A plan with no change must not replace the rule."
  }
}
