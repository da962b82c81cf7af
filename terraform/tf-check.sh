#!/usr/bin/env bash
# tf-check.sh - offline checks of the Terraform module (`make tf-check`, CI).
#
#   bash terraform/tf-check.sh
#
# Builds (first run, ~10 min) or reuses the alicloud provider from the Go module proxy
# with ../shared/tools/tf-offline.sh (beside the repository), then:
#   terraform/                           fmt -check -recursive, init, validate, test
#   terraform/modules/member-role        init, validate, test
#   terraform/examples/*                 init, validate
#   terraform/modules/aggregate-remediation: fmt only. It needs provider >= 1.267.0 and
#   only 1.240.0 is available offline, so it is neither initialised nor validated here.
# Tests use a mock provider: no credentials, no network, no dist/function.zip needed.
# Env: TF_OFFLINE_SH overrides the path of tf-offline.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
tool=${TF_OFFLINE_SH:-$repo/../shared/tools/tf-offline.sh}

if [[ ! -f $tool ]]; then
  echo "tf-check: $tool not found (expected shared/tools/tf-offline.sh beside the repository; or set TF_OFFLINE_SH)" >&2
  exit 1
fi
command -v terraform >/dev/null || { echo "tf-check: terraform not found in PATH" >&2; exit 1; }

env_line=$(bash "$tool" env)
eval "$env_line"

export TF_IN_AUTOMATION=1 TF_INPUT=0
color=()
[[ -t 1 ]] || color=(-no-color)  # plain logs in CI
cd "$here"

step() { echo "tf-check: $*" >&2; }
step "terraform fmt -check -recursive"
terraform fmt -check -recursive -diff

# init + validate (+ test when the directory has tests/) of one configuration.
check_dir() {
  local dir=$1
  step "$dir: terraform init -backend=false"
  (cd "$here/$dir" && terraform init -backend=false -input=false ${color[@]+"${color[@]}"} >/dev/null)
  step "$dir: terraform validate"
  (cd "$here/$dir" && terraform validate ${color[@]+"${color[@]}"})
  if [[ -d $here/$dir/tests ]]; then
    step "$dir: terraform test"
    (cd "$here/$dir" && terraform test ${color[@]+"${color[@]}"})
  fi
}

check_dir .
check_dir modules/member-role
for ex in "$here"/examples/*/; do
  check_dir "examples/$(basename "$ex")"
done
step "modules/aggregate-remediation: fmt only (needs provider >= 1.267.0, not available offline)"
