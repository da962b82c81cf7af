package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
	"github.com/sg-remediation/sg-remediation/remediation/pin"
)

func TestPin(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	e := cloudEnv(emu)
	args := []string{"pin", "--region", "cn-hangzhou", "--group", dropGroup, "--log", "-"}

	// A dry run changes nothing.
	r := runCLI(t, e, "", append(args, "--ip", "203.0.113.7", "--dry-run")...)
	if r.code != exitOK || !strings.Contains(r.stdout, "would-create") || emu.CallCount("AuthorizeSecurityGroup") != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, e, "", append(args, "--ip", "203.0.113.7")...)
	if r.code != exitOK || !strings.Contains(r.stdout, "203.0.113.7/32: created") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	managed := func() []string {
		g, _ := emu.Group("cn-hangzhou", dropGroup)
		var out []string
		for _, r := range g.Permissions {
			if strings.HasPrefix(r.Description, pin.Marker) {
				out = append(out, r.SourceCidrIp)
			}
		}
		return out
	}
	if got := managed(); len(got) != 1 || got[0] != "203.0.113.7/32" {
		t.Errorf("managed rules %v", got)
	}

	// The address from --ip-from (PIN_IP_URL by default): the old rule is
	// replaced; the rules pin does not manage are left alone.
	ipSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, `{"ip":"198.51.100.9"}`)
	}))
	defer ipSrv.Close()
	r = runCLI(t, e.with(pin.EnvIPURL+"="+ipSrv.URL), "", args...)
	if r.code != exitOK || !strings.Contains(r.stdout, "198.51.100.9/32: replaced") || !strings.Contains(r.stderr, "public IP from") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := managed(); len(got) != 1 || got[0] != "198.51.100.9/32" {
		t.Errorf("managed rules %v", got)
	}
	if ids := liveIDs(t, emu, dropGroup); !ids["sgr-bp1drop0000000office22"] || !ids["sgr-bp1drop00000000drop22"] {
		t.Errorf("pin touched a rule it does not manage: %v", ids)
	}

	// Again: unchanged, no write call.
	emu.ResetCalls()
	r = runCLI(t, e, "", append(args, "--ip-from", ipSrv.URL)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "unchanged") || emu.CallCount("AuthorizeSecurityGroup")+emu.CallCount("RevokeSecurityGroup") != 0 {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Invalid options are usage errors, before any call.
	emu.ResetCalls()
	for _, bad := range [][]string{
		{"pin", "--region", "cn-hangzhou", "--group", "not-a-group", "--ip", "203.0.113.7"},
		{"pin", "--region", "cn-hangzhou", "--group", dropGroup, "--ip", "999.1.1.1"},
		{"pin", "--region", "cn-hangzhou", "--group", dropGroup, "--ip", "203.0.113.7", "--port", "70000"},
	} {
		r := runCLI(t, e, "", bad...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d\n%s\n%s", bad, r.code, r.stdout, r.stderr)
		}
	}
	// A plain-http IP endpoint that is not local is refused.
	r = runCLI(t, e, "", append(args, "--ip-from", "http://192.0.2.1/ip")...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "https") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if n := emu.CallCount(""); n != 0 {
		t.Errorf("%d calls for invalid options", n)
	}
}
