package cloudtest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxEvaluations bounds the evaluations of one PutEvaluations call.
const maxEvaluations = 100

// maxAnnotation is the longest annotation, in characters.
const maxAnnotation = 256

// wireEvaluation is one element of the Evaluations parameter. The numbers
// are kept raw to reject strings and fractions.
type wireEvaluation struct {
	ComplianceResourceId   *string         `json:"complianceResourceId"`
	ComplianceResourceType *string         `json:"complianceResourceType"`
	ComplianceRegionId     *string         `json:"complianceRegionId"`
	AccountId              json.RawMessage `json:"accountId"`
	ComplianceType         *string         `json:"complianceType"`
	OrderingTimestamp      json.RawMessage `json:"orderingTimestamp"`
	Annotation             *string         `json:"annotation"`
}

// putEvaluations records the evaluations of a custom rule. The result
// token must come from NewResultToken (Invalid.ResultToken, 400, if not;
// the Config documentation names no code, this one follows its
// Invalid.<Param>.Value style). Every field is checked, and a bad one fails
// the whole call (400 InvalidParameter naming it): the evaluations are
// recorded all or none.
func (s *Server) putEvaluations(r *request) (any, *apiError) {
	v, aerr := required(r.params, "ResultToken", "Evaluations")
	if aerr != nil {
		return nil, aerr
	}
	tok, raw := v[0], v[1]
	deleteMode, aerr := parseDeleteMode(r.params.Get("DeleteMode"))
	if aerr != nil {
		return nil, aerr
	}
	if !s.knownResultToken(tok) {
		return nil, errorf(400, "Invalid.ResultToken", "The specified ResultToken is not valid: %q.", tok)
	}
	in, aerr := decodeEvaluations(raw)
	if aerr != nil {
		return nil, aerr
	}
	out := make([]Evaluation, len(in))
	for i := range in {
		if out[i], aerr = in[i].evaluation(i); aerr != nil {
			return nil, aerr
		}
		out[i].ResultToken, out[i].DeleteMode, out[i].CallerAccountID = tok, deleteMode, r.account()
	}
	s.amu.Lock()
	s.evaluations = append(s.evaluations, out...)
	s.amu.Unlock()
	return struct {
		RequestId string
		Result    bool
	}{r.requestID, true}, nil
}

// parseDeleteMode reads the optional DeleteMode parameter: true or false,
// in any case; absent is false.
func parseDeleteMode(dm string) (bool, *apiError) {
	switch strings.ToLower(dm) {
	case "":
		return false, nil
	case "true", "false":
		return strings.EqualFold(dm, "true"), nil
	default:
		return false, invalidParam("DeleteMode", dm)
	}
}

// knownResultToken tells whether tok came from NewResultToken.
func (s *Server) knownResultToken(tok string) bool {
	s.amu.RLock()
	defer s.amu.RUnlock()
	return s.resultTokens[tok]
}

// badEvaluations is the error of an Evaluations parameter that is not valid.
func badEvaluations(format string, args ...any) *apiError {
	return errorf(400, "InvalidParameter", "Evaluations: "+format, args...)
}

// decodeEvaluations parses the Evaluations parameter: a JSON array of
// 1..maxEvaluations evaluations with no unknown field, and nothing after it.
func decodeEvaluations(raw string) ([]wireEvaluation, *apiError) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var in []wireEvaluation
	if err := dec.Decode(&in); err != nil {
		return nil, badEvaluations("not a JSON array of evaluations: %v", err)
	}
	if dec.More() {
		return nil, badEvaluations("trailing data after the JSON array")
	}
	if len(in) == 0 || len(in) > maxEvaluations {
		return nil, badEvaluations("%d evaluations, want 1..%d", len(in), maxEvaluations)
	}
	return in, nil
}

// evaluation checks element i of the Evaluations parameter, field by field
// in a fixed order, and converts it. The call's fields (ResultToken,
// DeleteMode, CallerAccountID) are left for the caller to fill.
func (w *wireEvaluation) evaluation(i int) (Evaluation, *apiError) {
	var e Evaluation
	var aerr *apiError
	if e.ComplianceResourceId, aerr = nonEmptyField(i, "complianceResourceId", w.ComplianceResourceId); aerr != nil {
		return e, aerr
	}
	if e.ComplianceResourceType, aerr = resourceTypeField(i, w.ComplianceResourceType); aerr != nil {
		return e, aerr
	}
	if e.ComplianceRegionId, aerr = nonEmptyField(i, "complianceRegionId", w.ComplianceRegionId); aerr != nil {
		return e, aerr
	}
	if e.ComplianceType, aerr = complianceTypeField(i, w.ComplianceType); aerr != nil {
		return e, aerr
	}
	if e.AccountId, aerr = accountIDField(i, w.AccountId); aerr != nil {
		return e, aerr
	}
	if e.OrderingTimestamp, aerr = orderingTimestampField(i, w.OrderingTimestamp); aerr != nil {
		return e, aerr
	}
	if e.Annotation, aerr = annotationField(i, w.Annotation); aerr != nil {
		return e, aerr
	}
	return e, nil
}

// nonEmptyField reads a string field of evaluation i that must be present
// and not blank.
func nonEmptyField(i int, name string, p *string) (string, *apiError) {
	if p == nil || strings.TrimSpace(*p) == "" {
		return "", badEvaluations("[%d].%s is missing or empty", i, name)
	}
	return *p, nil
}

// resourceTypeField reads complianceResourceType: ACS::<Product>::<Type>.
func resourceTypeField(i int, p *string) (string, *apiError) {
	t, aerr := nonEmptyField(i, "complianceResourceType", p)
	if aerr != nil {
		return "", aerr
	}
	if parts := strings.Split(t, "::"); len(parts) != 3 || parts[0] != "ACS" || parts[1] == "" || parts[2] == "" {
		return "", badEvaluations("[%d].complianceResourceType %q is not of the form ACS::<Product>::<Type>", i, t)
	}
	return t, nil
}

// complianceTypeField reads complianceType, one of the three Config knows.
func complianceTypeField(i int, p *string) (string, *apiError) {
	t, aerr := nonEmptyField(i, "complianceType", p)
	if aerr != nil {
		return "", aerr
	}
	switch t {
	case "COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE":
		return t, nil
	default:
		return "", badEvaluations("[%d].complianceType %q is not COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE", i, t)
	}
}

// accountIDField reads accountId, a positive JSON integer.
func accountIDField(i int, raw json.RawMessage) (int64, *apiError) {
	id, aerr := jsonInt(raw, i, "accountId")
	if aerr != nil {
		return 0, aerr
	}
	if id <= 0 {
		return 0, badEvaluations("[%d].accountId %d is not an account id", i, id)
	}
	return id, nil
}

// orderingTimestampField reads orderingTimestamp, a JSON integer of
// milliseconds since the epoch.
func orderingTimestampField(i int, raw json.RawMessage) (int64, *apiError) {
	ts, aerr := jsonInt(raw, i, "orderingTimestamp")
	if aerr != nil {
		return 0, aerr
	}
	// Milliseconds: a value in seconds (before 2001 read as ms) is a bug.
	if ts < 1e12 {
		return 0, badEvaluations("[%d].orderingTimestamp %d is not in milliseconds since the epoch", i, ts)
	}
	return ts, nil
}

// annotationField reads the optional annotation, at most maxAnnotation
// characters.
func annotationField(i int, p *string) (string, *apiError) {
	if p == nil {
		return "", nil
	}
	if n := utf8.RuneCountInString(*p); n > maxAnnotation {
		return "", badEvaluations("[%d].annotation has %d characters, at most %d", i, n, maxAnnotation)
	}
	return *p, nil
}

// jsonInt reads a JSON number that is an integer (not a string).
func jsonInt(raw json.RawMessage, i int, name string) (int64, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, badEvaluations("[%d].%s is missing", i, name)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, badEvaluations("[%d].%s %s is not an integer JSON number", i, name, raw)
	}
	return n, nil
}
