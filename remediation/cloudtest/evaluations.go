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
	deleteMode := false
	switch dm := r.params.Get("DeleteMode"); strings.ToLower(dm) {
	case "":
	case "true", "false":
		deleteMode = strings.EqualFold(dm, "true")
	default:
		return nil, invalidParam("DeleteMode", dm)
	}
	s.amu.RLock()
	known := s.resultTokens[tok]
	s.amu.RUnlock()
	if !known {
		return nil, errorf(400, "Invalid.ResultToken", "The specified ResultToken is not valid: %q.", tok)
	}

	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var in []wireEvaluation
	bad := func(format string, args ...any) *apiError {
		return errorf(400, "InvalidParameter", "Evaluations: "+format, args...)
	}
	if err := dec.Decode(&in); err != nil {
		return nil, bad("not a JSON array of evaluations: %v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON array")
	}
	if len(in) == 0 || len(in) > maxEvaluations {
		return nil, bad("%d evaluations, want 1..%d", len(in), maxEvaluations)
	}
	out := make([]Evaluation, len(in))
	for i, w := range in {
		e := &out[i]
		str := func(name string, p *string) (string, *apiError) {
			if p == nil || strings.TrimSpace(*p) == "" {
				return "", bad("[%d].%s is missing or empty", i, name)
			}
			return *p, nil
		}
		if e.ComplianceResourceId, aerr = str("complianceResourceId", w.ComplianceResourceId); aerr != nil {
			return nil, aerr
		}
		if e.ComplianceResourceType, aerr = str("complianceResourceType", w.ComplianceResourceType); aerr != nil {
			return nil, aerr
		}
		if parts := strings.Split(e.ComplianceResourceType, "::"); len(parts) != 3 || parts[0] != "ACS" || parts[1] == "" || parts[2] == "" {
			return nil, bad("[%d].complianceResourceType %q is not of the form ACS::<Product>::<Type>", i, e.ComplianceResourceType)
		}
		if e.ComplianceRegionId, aerr = str("complianceRegionId", w.ComplianceRegionId); aerr != nil {
			return nil, aerr
		}
		if e.ComplianceType, aerr = str("complianceType", w.ComplianceType); aerr != nil {
			return nil, aerr
		}
		switch e.ComplianceType {
		case "COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE":
		default:
			return nil, bad("[%d].complianceType %q is not COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE", i, e.ComplianceType)
		}
		if e.AccountId, aerr = jsonInt(w.AccountId, i, "accountId"); aerr != nil {
			return nil, aerr
		}
		if e.AccountId <= 0 {
			return nil, bad("[%d].accountId %d is not an account id", i, e.AccountId)
		}
		if e.OrderingTimestamp, aerr = jsonInt(w.OrderingTimestamp, i, "orderingTimestamp"); aerr != nil {
			return nil, aerr
		}
		// Milliseconds: a value in seconds (before 2001 read as ms) is a bug.
		if e.OrderingTimestamp < 1e12 {
			return nil, bad("[%d].orderingTimestamp %d is not in milliseconds since the epoch", i, e.OrderingTimestamp)
		}
		if w.Annotation != nil {
			e.Annotation = *w.Annotation
			if n := utf8.RuneCountInString(e.Annotation); n > maxAnnotation {
				return nil, bad("[%d].annotation has %d characters, at most %d", i, n, maxAnnotation)
			}
		}
		e.ResultToken, e.DeleteMode, e.CallerAccountID = tok, deleteMode, r.account()
	}
	s.amu.Lock()
	s.evaluations = append(s.evaluations, out...)
	s.amu.Unlock()
	return struct {
		RequestId string
		Result    bool
	}{r.requestID, true}, nil
}

// jsonInt reads a JSON number that is an integer (not a string).
func jsonInt(raw json.RawMessage, i int, name string) (int64, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errorf(400, "InvalidParameter", "Evaluations: [%d].%s is missing", i, name)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, errorf(400, "InvalidParameter", "Evaluations: [%d].%s %s is not an integer JSON number", i, name, raw)
	}
	return n, nil
}
