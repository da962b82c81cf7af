package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Error types of a failed invocation, as FC records them (errorType).
const (
	errInvalidSetting    = "InvalidSetting"    // an environment setting is invalid; no cloud call made
	errBadEvent          = "BadEvent"          // the payload is not a Config event; no cloud call made
	errNoCredentials     = "NoCredentials"     // the invocation carries no credentials; no cloud call made
	errSetup             = "SetupError"        // clients could not be built; no cloud call made
	errRemediationFailed = "RemediationFailed" // some resources failed; the message names every one
	errEvaluationFailed  = "EvaluationFailed"  // the verdict could not be reached or reported
)

// serve runs the FC runtime loop; it never returns.
func serve() {
	h := &handler{getenv: os.Getenv, log: slog.New(slog.NewJSONHandler(os.Stdout, nil))}
	fc.Start(h.invoke)
}

// handler serves FC invocations. It keeps nothing between invocations but the
// log: settings are read and clients built for each invocation, with that
// invocation's credentials.
type handler struct {
	getenv func(string) string
	log    *slog.Logger // JSON lines; every line of an invocation carries its requestId
}

// invoke is the FC handler. It takes the raw payload (Config may send it as a
// JSON string: DecodeEvent unwraps it) and answers with the report, or with
// an error when the settings or the event are invalid (before any cloud
// call), or when a resource failed (the message names every failed one, so
// Cloud Config records a failed remediation; the others stay remediated).
func (h *handler) invoke(ctx context.Context, event []byte) (any, error) {
	fcc, ok := fccontext.FromContext(ctx)
	if !ok {
		fcc = &fccontext.FcContext{}
	}
	log := h.log.With("requestId", fcc.RequestID)
	fail := func(typ, msg string) (any, error) {
		msg = strings.ReplaceAll(msg, "\n", "; ")
		log.Error("invocation failed", "errorType", typ, "error", msg)
		return nil, messages.InvokeResponse_Error{Type: typ, Message: msg}
	}

	s, ncfg, err := loadSettings(h.getenv)
	if err != nil {
		return fail(errInvalidSetting, "nothing done: "+err.Error())
	}
	inv := &invocation{settings: s, ownAccount: fcc.AccountId, region: fcc.Region, log: log,
		timeout: time.Duration(fcc.Function.Timeout) * time.Second, notifier: newNotifier(ncfg, log)}
	ev, resources, err := inv.decode(event)
	if err != nil {
		return fail(errBadEvent, "nothing done: "+err.Error())
	}
	// Only the invocation's own credentials: never the process environment.
	c := fcc.Credentials
	if c.AccessKeyId == "" || c.AccessKeySecret == "" {
		return fail(errNoCredentials, "nothing done: the invocation carries no credentials; give the function a RAM role "+
			"(process environment credentials are never used under FC)")
	}
	if inv.cred, err = remediation.StaticCredential(c.AccessKeyId, c.AccessKeySecret, c.SecurityToken); err != nil {
		return fail(errNoCredentials, "nothing done: the invocation's credentials: "+err.Error())
	}
	if ev != nil {
		log.Info("evaluation invocation", "resourceId", ev.InvokingEvent.ConfigurationItem.ResourceID,
			"messageType", ev.InvokingEvent.MessageType, "configurationType", ev.InvokingEvent.ConfigurationType, "retryCount", fcc.RetryCount)
		rep, err := inv.evaluate(ctx, ev)
		if err != nil {
			return fail(errEvaluationFailed, err.Error())
		}
		return rep, nil
	}
	log.Info("invocation", "resources", len(resources), "rules", configRules(resources), "dryRun", s.DryRun,
		"riskyPorts", s.RiskyPorts.String(), "timeoutSeconds", fcc.Function.Timeout, "retryCount", fcc.RetryCount)
	report, err := inv.remediate(ctx, resources)
	if report != nil {
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		// The per-resource lines carry the details; this line is the summary
		// (the whole report of a large event would be a megabyte).
		log.Log(ctx, level, "report", "dryRun", report.DryRun, "summary", report.Summary)
	}
	var failed *remediation.FailedError
	switch {
	case errors.As(err, &failed):
		return fail(errRemediationFailed, err.Error())
	case err != nil:
		return fail(errSetup, err.Error())
	}
	return report, nil
}

// configRules returns the distinct Config rule names (or IDs) of an event,
// for the log.
func configRules(resources []remediation.Resource) []string {
	var out []string
	for _, r := range resources {
		raw, ok := r.Extra["configRuleName"]
		if !ok {
			raw, ok = r.Extra["configRuleId"]
		}
		if name := strings.Trim(string(raw), `"`); ok && name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// oneLine joins the lines of a multi-error into one.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
