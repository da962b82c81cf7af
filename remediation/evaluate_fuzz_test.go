package remediation

import (
	"errors"
	"testing"
)

// FuzzDecodeEvaluation: never panics; a success has a token, a resource and
// a region, and a valid account id when it names one; an error wraps
// ErrBadEvent. An evaluation is always told apart from a remediation event.
func FuzzDecodeEvaluation(f *testing.F) {
	for _, s := range []string{
		`{"invokingEvent":{"configurationType":"COMMON","configurationItem":{"accountId":1234567890123456,"regionId":"cn-hangzhou","resourceId":"sg-1","resourceType":"ACS::ECS::SecurityGroup","configuration":"{\"Permissions\":{\"Permission\":[]}}"}},"resultToken":"t","orderingTimestamp":1764460800000}`,
		`{"invokingEvent":"{\"configurationItem\":{\"regionId\":\"r\",\"resourceId\":\"sg-1\"}}","resultToken":"t"}`,
		`"{\"invokingEvent\":{\"configurationItem\":{\"regionId\":\"r\",\"resourceId\":\"sg-1\"}},\"resultToken\":\"t\"}"`,
		`{"invokingEvent":{},"resultToken":""}`, `{`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := DecodeEvaluation(payload)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error does not wrap ErrBadEvent: %v", err)
			}
			return
		}
		it := ev.InvokingEvent.ConfigurationItem
		if ev.ResultToken == "" || it.ResourceID == "" || it.RegionID == "" {
			t.Fatalf("accepted an event without token, resource or region: %+v", ev)
		}
		if !ValidRegion(it.RegionID) {
			t.Fatalf("accepted region %q", it.RegionID)
		}
		if a := it.AccountID.String(); a != "" && !ValidAccountID(a) {
			t.Fatalf("accepted account id %q", a)
		}
	})
}
