package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Compliance types of PutEvaluations.
const (
	NonCompliant  = "NON_COMPLIANT"
	IsCompliant   = "COMPLIANT"
	NotApplicable = "NOT_APPLICABLE"
)

// MaxAnnotation is the longest annotation Config takes, in characters.
const MaxAnnotation = 256

// EvaluationEvent is what Cloud Config sends a custom rule (CUSTOM_FC,
// section 9). InvokingEvent arrives as an object or as a JSON string.
type EvaluationEvent struct {
	InvokingEvent     InvokingEvent  `json:"invokingEvent"`
	RuleParameters    map[string]any `json:"ruleParameters,omitempty"`
	ResultToken       string         `json:"resultToken"`
	OrderingTimestamp int64          `json:"orderingTimestamp,omitempty"`
}

// InvokingEvent is the evaluation's subject.
type InvokingEvent struct {
	MessageType                   string            `json:"messageType"`
	ConfigurationType             string            `json:"configurationType"` // COMMON, OVERSIZE or NONE
	AccountID                     json.Number       `json:"accountId,omitempty"`
	NotificationCreationTimestamp json.Number       `json:"notificationCreationTimestamp,omitempty"`
	ConfigurationItem             ConfigurationItem `json:"configurationItem"`
}

// ConfigurationItem is the resource as Config recorded it. Configuration
// is the configuration document as a JSON string (an object is accepted).
type ConfigurationItem struct {
	AccountID      json.Number     `json:"accountId,omitempty"`
	RegionID       string          `json:"regionId"`
	ResourceID     string          `json:"resourceId"`
	ResourceType   string          `json:"resourceType"`
	ResourceName   string          `json:"resourceName,omitempty"`
	ResourceStatus string          `json:"resourceStatus,omitempty"`
	CaptureTime    json.Number     `json:"captureTime,omitempty"`
	Tags           json.RawMessage `json:"tags,omitempty"`
	Configuration  json.RawMessage `json:"configuration,omitempty"`
}

// IsEvaluationEvent tells the two kinds of event apart by shape: an object
// with invokingEvent and resultToken is an evaluation; everything else is
// a remediation event (section 1).
func IsEvaluationEvent(payload []byte) bool {
	data := unwrapJSONString(bytes.TrimSpace(payload))
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	var probe struct {
		InvokingEvent json.RawMessage `json:"invokingEvent"`
		ResultToken   json.RawMessage `json:"resultToken"`
	}
	return fastJSON.Unmarshal(data, &probe) == nil && len(probe.InvokingEvent) > 0 && len(probe.ResultToken) > 0
}

// unwrapJSONString returns the text inside a JSON string, or data as it is.
func unwrapJSONString(data []byte) []byte {
	if len(data) > 0 && data[0] == '"' {
		var inner string
		if fastJSON.Unmarshal(data, &inner) == nil {
			return bytes.TrimSpace([]byte(inner))
		}
	}
	return data
}

// DecodeEvaluation decodes an evaluation event leniently (invokingEvent as
// an object or a JSON string). It makes no call; errors wrap ErrBadEvent.
func DecodeEvaluation(payload []byte) (*EvaluationEvent, error) {
	if len(payload) > MaxEventBytes {
		return nil, fmt.Errorf("%w: payload is %d bytes, over the %d-byte limit", ErrBadEvent, len(payload), MaxEventBytes)
	}
	data := unwrapJSONString(bytes.TrimSpace(payload))
	var raw struct {
		InvokingEvent     json.RawMessage `json:"invokingEvent"`
		RuleParameters    json.RawMessage `json:"ruleParameters"`
		ResultToken       string          `json:"resultToken"`
		OrderingTimestamp json.Number     `json:"orderingTimestamp"`
	}
	// One decoding pass (jsoniter, as for the API answers: the event carries
	// the whole configuration document); the syntax error is located only
	// when there is one.
	if err := fastJSON.Unmarshal(data, &raw); err != nil {
		if serr := jsonSyntax(data); serr != nil {
			return nil, fmt.Errorf("%w: evaluation event: not JSON: %v", ErrBadEvent, serr)
		}
		return nil, fmt.Errorf("%w: evaluation event: %v", ErrBadEvent, err)
	}
	ev := &EvaluationEvent{ResultToken: strings.TrimSpace(raw.ResultToken)}
	if err := fastJSON.Unmarshal(unwrapJSONString(bytes.TrimSpace(raw.InvokingEvent)), &ev.InvokingEvent); err != nil {
		return nil, fmt.Errorf("%w: evaluation event: invokingEvent: %v", ErrBadEvent, err)
	}
	if params := unwrapJSONString(bytes.TrimSpace(raw.RuleParameters)); len(params) > 0 && string(params) != "null" {
		if err := json.Unmarshal(params, &ev.RuleParameters); err != nil {
			return nil, fmt.Errorf("%w: evaluation event: ruleParameters: %v", ErrBadEvent, err)
		}
	}
	if raw.OrderingTimestamp != "" {
		n, err := raw.OrderingTimestamp.Int64()
		if err != nil {
			return nil, fmt.Errorf("%w: evaluation event: orderingTimestamp %q is not a number of milliseconds", ErrBadEvent, raw.OrderingTimestamp)
		}
		ev.OrderingTimestamp = n
	}
	return ev, ev.check()
}

// check refuses an event that cannot be judged or reported.
func (ev *EvaluationEvent) check() error {
	it := &ev.InvokingEvent.ConfigurationItem
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: evaluation event: %s", ErrBadEvent, fmt.Sprintf(format, args...))
	}
	switch {
	case ev.ResultToken == "":
		return bad("no resultToken")
	case it.ResourceID == "":
		return bad("configurationItem has no resourceId")
	case it.RegionID == "":
		return bad("configuration item %s has no regionId", it.ResourceID)
	case !ValidRegion(it.RegionID):
		return bad("configuration item %s: regionId %q is not a region id", it.ResourceID, it.RegionID)
	case it.AccountID != "" && !ValidAccountID(it.AccountID.String()):
		return bad("configuration item %s: accountId %q is not a 16-digit account id", it.ResourceID, it.AccountID)
	}
	return nil
}

// account is the owner of the item: its own accountId, else the event's.
func (ev *EvaluationEvent) account() string {
	if a := ev.InvokingEvent.ConfigurationItem.AccountID.String(); a != "" {
		return a
	}
	return ev.InvokingEvent.AccountID.String()
}

// EvaluationReport is the answer of an evaluation invocation.
type EvaluationReport struct {
	ResourceID     string       `json:"resourceId"`
	Region         string       `json:"regionId"`
	AccountID      string       `json:"accountId,omitempty"`
	ComplianceType string       `json:"complianceType"`
	Annotation     string       `json:"annotation"`
	Rules          []RuleReport `json:"rules,omitempty"`
	// Reported is set once PutEvaluations accepted the verdict.
	Reported bool `json:"reported"`
}

// Evaluator judges one configuration item with the remediation's own steps
// (read snapshot when needed, judge) and reports it with PutEvaluations. It
// makes no ECS call and changes nothing.
type Evaluator struct {
	steps
	// OwnAccount is the function's account, for an item without accountId.
	OwnAccount string
	// NoReport judges without calling PutEvaluations (a live replay that
	// was not told to --apply). DRY_RUN does not stop the report: a rule in
	// a dry-run deployment must still show what is non-compliant.
	NoReport bool
}

// NewEvaluator returns an Evaluator; log receives one line per evaluation.
func NewEvaluator(s Settings, config ConfigAPI, log *slog.Logger) (*Evaluator, error) {
	st, err := newSteps(s, config, log)
	if err != nil {
		return nil, err
	}
	return &Evaluator{steps: st}, nil
}

// Evaluate judges the event's item and reports the verdict with
// PutEvaluations. The ctx deadline is the invocation's; the same reserve as
// the remediation's is kept.
func (e *Evaluator) Evaluate(ctx context.Context, ev *EvaluationEvent, timeout time.Duration) (*EvaluationReport, error) {
	ctx, cancel := WithReserve(ctx, timeout)
	defer cancel()
	e.checkPorts(ev)
	rep, err := e.verdict(ctx, ev)
	if err != nil {
		e.log.Error("evaluation", "resourceId", rep.ResourceID, "regionId", rep.Region, "accountId", rep.AccountID, "error", err)
		return rep, err
	}
	acct, _ := strconv.ParseInt(rep.AccountID, 10, 64)
	when := ev.OrderingTimestamp
	if when == 0 {
		when, _ = ev.InvokingEvent.ConfigurationItem.CaptureTime.Int64()
	}
	evaluation := Evaluation{
		ComplianceResourceID: rep.ResourceID, ComplianceResourceType: ev.InvokingEvent.ConfigurationItem.ResourceType,
		ComplianceRegionID: rep.Region, AccountID: acct, ComplianceType: rep.ComplianceType,
		OrderingTimestamp: when, Annotation: rep.Annotation,
	}
	if !e.NoReport {
		err = e.Retry.Do(ctx, func(ctx context.Context) error {
			return e.config.PutEvaluations(ctx, ev.ResultToken, []Evaluation{evaluation})
		})
		if err != nil {
			err = fmt.Errorf("PutEvaluations %s: %w", rep.ResourceID, err)
		}
		rep.Reported = err == nil
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
	}
	e.log.Log(ctx, level, "evaluation", "resourceId", rep.ResourceID, "regionId", rep.Region, "accountId", rep.AccountID,
		"complianceType", rep.ComplianceType, "annotation", rep.Annotation, "rules", rep.Rules, "error", err)
	return rep, err
}

// checkPorts warns when the rule's ports parameter differs from RISKY_PORTS,
// which decides.
func (e *Evaluator) checkPorts(ev *EvaluationEvent) {
	v, ok := ev.RuleParameters["ports"]
	if !ok {
		return
	}
	s := strings.TrimSpace(fmt.Sprint(v))
	if p, err := ParsePorts(s); err != nil || p.String() != e.settings.RiskyPorts.String() {
		e.log.Warn("the rule's ports parameter differs from RISKY_PORTS; RISKY_PORTS decides",
			"ports", s, "riskyPorts", e.settings.RiskyPorts.String())
	}
}

// verdict is steps 1 and 2 on the item: the configuration in the event
// (COMMON), or read from Config (OVERSIZE, NONE), judged.
func (e *Evaluator) verdict(ctx context.Context, ev *EvaluationEvent) (*EvaluationReport, error) {
	it := &ev.InvokingEvent.ConfigurationItem
	res := Resource{RegionID: it.RegionID, ResourceID: it.ResourceID, ResourceType: it.ResourceType, AccountID: ev.account()}
	if res.AccountID == "" {
		res.AccountID = e.OwnAccount
	}
	rep := &EvaluationReport{ResourceID: res.ResourceID, Region: res.RegionID, AccountID: res.AccountID, ComplianceType: NotApplicable}
	switch {
	case !strings.EqualFold(it.ResourceType, SecurityGroupType):
		rep.Annotation = fmt.Sprintf("resource type %s is not %s", it.ResourceType, SecurityGroupType)
		return rep, nil
	case strings.HasPrefix(it.ResourceStatus, "ResourceDeleted"):
		rep.Annotation = "the resource is deleted"
		return rep, nil
	}
	snap, err := e.itemSnapshot(ctx, ev, res)
	if err != nil {
		return rep, err
	}
	if snap.Deleted {
		rep.Annotation = "the resource is deleted (ResourceDeleted 0)"
		return rep, nil
	}
	j := e.judge(res, snap.Managed, snap.Tags, snap.Rules)
	if snap.Managed {
		rep.Annotation = j.Note
		return rep, nil
	}
	rep.ComplianceType, rep.Annotation = compliance(j, e.settings.RiskyPorts)
	for _, d := range j.Decisions {
		rep.Rules = append(rep.Rules, ruleReport(d, evaluationAction(d)))
	}
	return rep, nil
}

// itemSnapshot is the item's configuration: the one in the event, or, when
// it is too large to travel with it, the one Config holds.
func (e *Evaluator) itemSnapshot(ctx context.Context, ev *EvaluationEvent, res Resource) (*Snapshot, error) {
	it := &ev.InvokingEvent.ConfigurationItem
	doc := unwrapJSONString(bytes.TrimSpace(it.Configuration))
	if strings.EqualFold(ev.InvokingEvent.ConfigurationType, "COMMON") && len(doc) > 0 && string(doc) != "null" {
		snap, err := e.parseSnapshot(doc, itemTags(it.Tags))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.ResourceID, err)
		}
		return snap, nil
	}
	return e.readSnapshot(ctx, res)
}

// itemTags reads the item's tags: {"key":"value"}, {"key":["value"]}, or
// the ECS shape; anything else is ignored (the document carries them too).
func itemTags(raw json.RawMessage) map[string][]string {
	raw = unwrapJSONString(bytes.TrimSpace(raw))
	var many map[string][]string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	var one map[string]string
	if json.Unmarshal(raw, &one) == nil {
		out := make(map[string][]string, len(one))
		for k, v := range one {
			out[k] = []string{v}
		}
		return out
	}
	var ecsShape any
	if json.Unmarshal(raw, &ecsShape) == nil {
		return configTags(ecsShape)
	}
	return nil
}

func evaluationAction(d Decision) string {
	switch {
	case d.Risky:
		return "risky"
	case d.Unreadable:
		return "unreadable"
	}
	return keptAction(d)
}

// compliance maps a judgement to a compliance type and its annotation (at
// most MaxAnnotation characters): NON_COMPLIANT when a rule is risky, also
// when the exposure is excepted or the group exempt (the risk is real and
// accepted), or a range cannot be read; else COMPLIANT.
func compliance(j Judgement, risky PortSet) (string, string) {
	var risks, accepted, protective []string
	for _, d := range j.Decisions {
		id := d.Rule.SecurityGroupRuleId
		switch {
		case d.Risky:
			risks = append(risks, d.Reason+" via "+id)
		case d.Unreadable:
			risks = append(risks, "cannot read the port range "+strconv.Quote(d.Rule.PortRange)+" of "+id)
		case d.Excepted != nil:
			accepted = append(accepted, id+" "+d.Reason)
		case d.Shadowed:
			protective = append(protective, d.Reason)
		}
	}
	if len(risks) > 0 || len(accepted) > 0 {
		parts := risks
		if j.Exempt {
			parts = append([]string{j.Note + ", accepted"}, parts...)
		}
		return NonCompliant, cut(strings.Join(append(parts, accepted...), "; "))
	}
	note := fmt.Sprintf("no rule exposes a risky port (%s) to the internet", risky)
	if len(protective) > 0 {
		note += "; " + strings.Join(protective, "; ")
	}
	if j.Note != "" && !j.Exempt {
		note += "; " + j.Note
	}
	return IsCompliant, cut(note)
}

// cut shortens s to MaxAnnotation characters, ending with "…".
func cut(s string) string {
	if utf8.RuneCountInString(s) <= MaxAnnotation {
		return s
	}
	r := []rune(s)
	return string(r[:MaxAnnotation-1]) + "…"
}
