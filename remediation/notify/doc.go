// Package notify tells a security group's owner what the remediation did and
// how to undo it, through chat robots and webhooks (contract section 8).
//
// # Settings
//
// LoadConfig (or ParseConfig, ParseTargets and ParseOn separately) reads
// NOTIFY_URL, NOTIFY_SECRET and NOTIFY_ON. The kind of each URL comes from
// its host (oapi.dingtalk.com, open.feishu.cn, open.larksuite.com,
// qyapi.weixin.qq.com, hooks.slack.com; anything else is a generic JSON
// POST) or from an explicit "dingtalk+", "feishu+", "wecom+", "slack+" or
// "json+" prefix before the scheme. Only https:// is accepted, or http:// to
// a loopback address. A DingTalk robot secured by a custom keyword needs the
// keyword "sg-remediation", which every message's title holds. Errors wrap remediation.ErrBadSetting, so an invalid
// setting fails the invocation like any other.
//
// # Credentials
//
// A webhook URL is a credential (DingTalk's access_token, WeCom's key,
// Lark's /hook/<token>, Slack's /services/T../B../<token>), and so is
// NOTIFY_SECRET. Target and Secret never print them: their String,
// GoString, Format and LogValue methods give the redacted form, and Redact
// hides every query value, user info, fragment and every path segment that
// is not a known public one. Transport errors (whose *url.Error text quotes
// the full URL) are unwrapped, and every error and answer text is scrubbed
// of the known credentials before it is returned or logged.
//
// # Message
//
// One message per invocation and webhook, only when some resource's outcome
// (or, for "excepted", some rule's action) is in NOTIFY_ON; failures are
// always named once a message is sent, and listed first so that a cut
// keeps them. The message says whether it was a dry run, lists each group
// (id, region, account, outcome, reason) with its revoked, would-be-revoked,
// failed or excepted rules (id, protocol, ports, source, why, replacements),
// and ends with how to undo: the Log Service query that finds the groups'
// backup lines (BackupQueries) and the restore command (RestoreCommand).
//
// The message is composed once as lines of spans and rendered per kind:
// markdown for DingTalk, WeCom and the generic kind, mrkdwn for Slack,
// plain "post" paragraphs for Lark. Over the kind's size limit it is cut at
// a group boundary (the largest number of whole groups that fits, found by
// binary search) and says how many groups were left out:
//
//	DingTalk  JSON body     20000 bytes (the robot's "message too long, exceed 20000 bytes")
//	Lark      JSON body     20 KB documented; 19900 bytes before the signature fields
//	WeCom     content       4096 bytes (errcode 40058 beyond)
//	Slack     text          40000 characters (counted as bytes, which is stricter)
//	generic   no cut
//
// # Sending
//
// Send posts to every webhook concurrently after the remediation work and
// before the answer. The caller passes a context whose deadline already
// excludes the invocation's reserve (contract section 3); on top of it each
// webhook gets at most PerURLTimeout (5 s) and two attempts of at most
// AttemptTimeout (3 s) each, the second only after a network error, HTTP
// 429 or 5xx. Redirects are not followed and no environment proxy is used.
// Signatures (DingTalk in the URL, Lark in the body) are computed per
// attempt from Config.Now. A failure is logged as a warning naming only the
// webhook's host and returned in Result; it never changes the remediation's
// outcome or answer. Preview renders the same messages without sending,
// for `replay` without --live.
//
// Package notifytest is an emulator of the five kinds for tests.
package notify
