package pin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sg-remediation/sg-remediation/remediation/pin"
)

// countingTransport counts requests and refuses any that is not to loopback,
// so that no test can reach the network.
type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	switch r.URL.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		return c.next.RoundTrip(r)
	}
	return nil, errors.New("test transport: request to " + r.URL.Host + " refused")
}

func TestPublicIPAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		ctype   string
		body    string
		want    string // "" means an error is expected
		wantErr string
	}{
		{name: "text", body: "203.0.113.7\n", want: "203.0.113.7"},
		{name: "text with spaces", body: "  \t203.0.113.7 \r\n", want: "203.0.113.7"},
		{name: "IPv6 text", body: "2001:db8::7", want: "2001:db8::7"},
		{name: "IPv4-mapped is unmapped", body: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{name: "JSON", ctype: "application/json", body: `{"ip":"198.51.100.4"}`, want: "198.51.100.4"},
		{name: "JSON with other fields", ctype: "application/json", body: ` {"country":"NL","ip":" 2001:db8::9 ","asn":1}` + "\n", want: "2001:db8::9"},
		{name: "loopback is accepted", body: "127.0.0.1", want: "127.0.0.1"},
		{name: "garbage", body: "<html>hello</html>", wantErr: "not an IP address"},
		{name: "empty", body: "", wantErr: "not an IP address"},
		{name: "CIDR", body: "203.0.113.0/24", wantErr: "not an IP address"},
		{name: "JSON without ip", body: `{"addr":"203.0.113.7"}`, wantErr: `no "ip" field`},
		{name: "bad JSON", body: `{"ip":`, wantErr: "not valid JSON"},
		{name: "JSON ip not an address", body: `{"ip":"nope"}`, wantErr: "not an IP address"},
		{name: "unspecified", body: "0.0.0.0", wantErr: "unspecified"},
		{name: "IPv6 unspecified", body: "::", wantErr: "unspecified"},
		{name: "multicast", body: "224.0.0.1", wantErr: "multicast"},
		{name: "zone", body: "fe80::1%eth0", wantErr: "zone"},
		{name: "too large", body: strings.Repeat(" ", 2000) + "203.0.113.7", wantErr: "larger than 1024 bytes"},
		{name: "exactly 1 KiB is fine", body: strings.Repeat(" ", 1024-len("203.0.113.7")) + "203.0.113.7", want: "203.0.113.7"},
		{name: "HTTP error", status: 503, body: "203.0.113.7", wantErr: "HTTP 503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					t.Errorf("method %s", r.Method)
				}
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			got, err := pin.PublicIP(context.Background(), srv.URL+"/", srv.Client())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, %v; want an error saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestPublicIPHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ip":"203.0.113.7"}`))
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatal(srv.URL)
	}
	got, err := pin.PublicIP(context.Background(), srv.URL, srv.Client())
	if err != nil || got != netip.MustParseAddr("203.0.113.7") {
		t.Fatalf("%v %v", got, err)
	}
}

func TestPublicIPLocalhostName(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("192.0.2.1"))
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	got, err := pin.PublicIP(context.Background(), u, srv.Client())
	if err != nil || got != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("%s: %v %v", u, got, err)
	}
}

func TestPublicIPRefusedURLs(t *testing.T) {
	tests := []struct{ url, want string }{
		{"", "no endpoint URL"},
		{"http://example.com/ip", "plain http:// is allowed only to"},
		{"http://127.0.0.2:8080/", "plain http:// is allowed only to"},
		{"HTTP://ip.example/", "plain http:// is allowed only to"},
		{"ftp://127.0.0.1/", "want an https:// URL"},
		{"example.com/ip", "want an https:// URL"},
		{"https:///nohost", "has no host"},
		{"://bad", "missing protocol scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			tr := &countingTransport{next: http.DefaultTransport}
			_, err := pin.PublicIP(context.Background(), tc.url, &http.Client{Transport: tr})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
			if n := tr.n.Load(); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

func TestPublicIPRedirectToPlainHTTPRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://ip.example/", http.StatusFound)
	}))
	defer srv.Close()
	tr := &countingTransport{next: http.DefaultTransport}
	client := &http.Client{Transport: tr}
	_, err := pin.PublicIP(context.Background(), srv.URL, client)
	if err == nil || !strings.Contains(err.Error(), "redirect refused") {
		t.Fatalf("err %v", err)
	}
	if n := tr.n.Load(); n != 1 {
		t.Errorf("%d requests sent, want only the first", n)
	}
	if client.CheckRedirect != nil {
		t.Error("the caller's client was modified")
	}
}

func TestPublicIPContextCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("203.0.113.7"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pin.PublicIP(ctx, srv.URL, srv.Client()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}
