// Package remediation decides which security group rules really expose a
// risky port to the whole internet, and closes them. It is the core of the
// sg-remediation function; the contract (../shared/spec/contract.md) is its
// specification.
//
// # One definition of "risky"
//
// decide.go is the contract's decision table (section 2), its branches
// numbered against conditions 1-6: Decide judges a group's rules and gives
// every internet-open ingress rule a Decision with a reason. CandidateExpr
// (selection.go) is the JMESPath expression that picks the candidates out of
// a Cloud Config configuration document; it only narrows (a property test
// proves it never drops a rule Decide would revoke). Exceptions
// (exceptions.go) turn a risky decision into an accepted one, with an owner,
// a reason and an end date.
//
// # Named steps
//
// steps.go holds the steps of section 3, which three flows compose:
//
//	readSnapshot -> judge -> confirmLive -> apply    Remediator (remediate.go)
//	readSnapshot -> judge -> PutEvaluations         Evaluator (evaluate.go), section 9
//	live read    -> judge                           audit, section 10
//
// # The cloud
//
// The interfaces ConfigAPI, ECSAPI and STSAPI (cloud.go, accounts.go) are
// every call the function makes; the RAM policy is derived from them (a test
// compares them with terraform/iam.tf). Cloud (aliyun*.go) implements them
// over the real Alibaba Cloud SDK clients, one per invocation's credentials.
// Accounts gives each resource the ECS API signed for its owner (account
// groups, section 6). groups.go is the one home of the ECS quirks shared by
// the remediation, pin and restore: paging, batches of 100, the
// all-or-nothing revoke, duplicate authorize answers.
//
// RetryPolicy (cloud.go) is the retry policy of section 3 as a function of
// the error; the deadline reserve is applied to the context (WithReserve),
// so no call starts inside it.
//
// # Settings
//
// settings.go declares every environment setting once (settingTable): name,
// default, parser and help. The usage text is generated from it, and tests
// check it against the README and the Terraform module.
//
// The emulator in package cloudtest is the only fake: tests run the real SDK
// clients against it on 127.0.0.1.
package remediation
