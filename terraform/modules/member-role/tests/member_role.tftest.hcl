# Offline tests of the member-role module (mock provider, no credentials, no network).

mock_provider "alicloud" {
  mock_data "alicloud_account" {
    defaults = {
      id = "2222222222222222"
    }
  }

  mock_resource "alicloud_ram_role" {
    defaults = {
      arn = "acs:ram::2222222222222222:role/sg-remediation-member"
    }
  }
}

variables {
  management_account_id = "1111111111111111"
  function_role_name    = "sg-remediation-fc-role"
}

run "trusted_only_by_the_function_role" {
  command = plan

  assert {
    condition = jsondecode(alicloud_ram_role.this.document) == {
      Version = "1"
      Statement = [{
        Action    = "sts:AssumeRole"
        Effect    = "Allow"
        Principal = { RAM = ["acs:ram::1111111111111111:role/sg-remediation-fc-role"] }
      }]
    }
    error_message = "The member role must trust exactly the management account's function role (not the whole account)."
  }

  assert {
    condition = jsondecode(alicloud_ram_policy.this.policy_document).Statement == [{
      Effect   = "Allow"
      Action   = ["ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"]
      Resource = ["acs:ecs:*:2222222222222222:securitygroup/*"]
    }]
    error_message = "Least privilege: the two ECS calls, on this member account's security groups only."
  }

  assert {
    condition     = alicloud_ram_role.this.name == "sg-remediation-member" && alicloud_ram_role_policy_attachment.this.role_name == "sg-remediation-member"
    error_message = "Default role name sg-remediation-member, with its policy attached."
  }
}

run "restrict_mode_adds_authorize" {
  command = plan

  variables {
    restrict_mode = true
    role_name     = "sgr-member"
  }

  assert {
    condition     = jsondecode(alicloud_ram_policy.this.policy_document).Statement[0].Action == ["ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup", "ecs:AuthorizeSecurityGroup"]
    error_message = "Restrict mode adds ecs:AuthorizeSecurityGroup."
  }

  assert {
    condition     = alicloud_ram_policy.this.policy_name == "sgr-member-policy"
    error_message = "The policy is named after the role."
  }
}

run "outputs_with_mocked_apply" {
  command = apply

  assert {
    condition = (
      output.role_name == "sg-remediation-member" &&
      output.role_arn == "acs:ram::2222222222222222:role/sg-remediation-member" &&
      output.policy_name == "sg-remediation-member-policy"
    )
    error_message = "Outputs must expose the role and policy."
  }
}

run "rejects_management_account_itself" {
  command = plan

  variables {
    management_account_id = "2222222222222222"
  }

  expect_failures = [alicloud_ram_role.this]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    management_account_id = "12345"
    function_role_name    = "role/x"
    max_session_duration  = 900
  }

  expect_failures = [var.management_account_id, var.function_role_name, var.max_session_duration]
}
