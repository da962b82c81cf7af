#!/usr/bin/env bash
# tf-check.sh - offline checks of the Terraform module (`make tf-check`, CI).
#
#   bash terraform/tf-check.sh
#
# Builds (first run, ~10 min) or reuses the alicloud provider from the Go module proxy
# with ../shared/tools/tf-offline.sh (beside the repository), then in terraform/:
# fmt -check, init -backend=false, validate, test (mock provider: no credentials, no
# network, no dist/function.zip needed).
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
step "terraform init -backend=false"
terraform init -backend=false -input=false ${color[@]+"${color[@]}"}
step "terraform validate"
terraform validate ${color[@]+"${color[@]}"}
step "terraform test"
terraform test ${color[@]+"${color[@]}"}
