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
	// A plain-http IP endpoint that is not local is a usage error.
	r = runCLI(t, e, "", append(args, "--ip-from", "http://192.0.2.1/ip")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "https") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if n := emu.CallCount(""); n != 0 {
		t.Errorf("%d calls for invalid options", n)
	}
}

// Every option is checked before the settings, the credentials and the IP
// endpoint: with no credentials at all, a bad option is still a usage error
// (exit 2) naming the option, not "no credentials"; every bad option is
// named at once.
func TestPinValidatesOptionsFirst(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	ipSrv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the IP endpoint was asked despite an invalid option")
	}))
	defer ipSrv.Close()
	base := []string{"pin", "--region", "cn-hangzhou", "--group", webGroup}
	noCreds := env{"ECS_ENDPOINT": emu.URL()} // no key: the chain finds none either (TestMain)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ip", "notanip"}, `--ip "notanip" is not an IP address`},
		{[]string{"--ip", "0.0.0.0"}, "unspecified"},
		{[]string{"--ip", "224.0.0.1"}, "multicast"},
		{[]string{"--ip", "203.0.113.7", "--protocol", "icmp"}, `--protocol "icmp": want tcp or udp`},
		{[]string{"--ip", "203.0.113.7", "--group", "foo"}, `--group "foo" is not a security group id`},
		{[]string{"--ip", "203.0.113.7", "--region", "CN_HANGZHOU"}, `--region "CN_HANGZHOU" is not a region id`},
		{[]string{"--ip", "203.0.113.7", "--port", "0"}, "--port 0 is outside 1..65535"},
		{[]string{"--ip", "203.0.113.7", "--port", "-1"}, "--port -1 is outside 1..65535"},
		{[]string{"--ip", "203.0.113.7", "--port", "70000"}, "--port 70000 is outside 1..65535"},
		{[]string{"--ip", "203.0.113.7", "--timeout", "0s"}, "--timeout 0s"},
		{[]string{"--ip-from", "http://example.com/"}, `--ip-from: "http://example.com/": plain http:// is allowed only to 127.0.0.1`},
		{[]string{"--ip-from", "ftp://" + strings.TrimPrefix(ipSrv.URL, "http://")}, "want an https:// URL"},
		{[]string{"--ip", "1.2.3.4", "extra"}, "unexpected arguments: extra"},
		// Several at once: all named.
		{[]string{"--ip", "x", "--port", "0", "--protocol", "icmp"}, `--port 0 is outside 1..65535; --protocol "icmp": want tcp or udp; --ip "x" is not an IP address`},
	} {
		args := append(append([]string{}, base...), tc.args...)
		r := runCLI(t, noCreds, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "no credentials") || r.stdout != "" {
			t.Errorf("%v: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, exitUsage, tc.want, r.stdout, r.stderr)
		}
	}
	// PIN_IP_URL is checked the same way, and named.
	r := runCLI(t, noCreds.with(pin.EnvIPURL+"=http://example.com/"), "", base...)
	if r.code != exitUsage || !strings.Contains(r.stderr, pin.EnvIPURL+`: "http://example.com/"`) {
		t.Errorf("PIN_IP_URL: exit %d\n%s", r.code, r.stderr)
	}
	if n := emu.CallCount(""); n != 0 {
		t.Errorf("%d calls for invalid options", n)
	}
	// Valid options, no credentials: now, and only now, that is the error,
	// in one line that says what to do.
	r = runCLI(t, noCreds, "", append(base, "--ip", "203.0.113.7", "--port", "3389")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "no credentials") || !strings.Contains(r.stderr, progName+" emulator") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("no credentials: exit %d\n%s", r.code, r.stderr)
	}
	// Omitting --port pins the default, 22.
	r = runCLI(t, cloudEnv(emu), "", append(base, "--ip", "203.0.113.7", "--dry-run")...)
	if r.code != exitOK || !strings.Contains(r.stdout, "tcp/22 pinned to 203.0.113.7/32: would-create") {
		t.Errorf("default port: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// A rule pin does not manage that still opens the pinned port to the
// internet is named as such; one that a Drop rule blocks is not.
func TestPinWarnsWhenStillExposed(t *testing.T) {
	emu := newEmulator(t, cloudtest.Options{})
	e := cloudEnv(emu)
	r := runCLI(t, e, "", "pin", "--region", "cn-hangzhou", "--group", webGroup, "--ip", "203.0.113.7")
	want := "WARNING: tcp/22 is still exposed to the internet: rule sgr-bp1web00000000000ssh exposes 22/tcp to 0.0.0.0/0"
	if r.code != exitOK || !strings.Contains(r.stdout, want) {
		t.Errorf("web group: exit %d, want %q\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	// RDP is open too, but pinning 22 says nothing about it.
	if strings.Contains(r.stdout, "sgr-bp1web00000000000rdp") {
		t.Errorf("warned about another port:\n%s", r.stdout)
	}
	// The bastion's world-open 22 is shadowed by a Drop rule: listed as
	// left alone, no warning.
	r = runCLI(t, e, "", "pin", "--region", "cn-hangzhou", "--group", dropGroup, "--ip", "203.0.113.7")
	if r.code != exitOK || !strings.Contains(r.stdout, "sgr-bp1drop0000000accept22") || strings.Contains(r.stdout, "WARNING") {
		t.Errorf("drop-protected group: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
