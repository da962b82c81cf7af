package pin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// MaxIPBody is the most bytes PublicIP reads of an answer.
const MaxIPBody = 1 << 10

// PublicIPTimeout bounds PublicIP when the caller gives no client.
const PublicIPTimeout = 10 * time.Second

// PublicIP asks a "what is my IP" endpoint for the caller's public address:
// GET url, whose 2xx answer is the address as text (surrounding spaces
// trimmed) or a JSON object {"ip":"..."}. The body is limited to 1 KiB.
//
// url must be https://, except that plain http:// is allowed to 127.0.0.1,
// ::1 and localhost (local test servers); any other URL is refused before a
// request is sent, and so is a redirect to one. client nil means a client
// with a 10 s timeout.
//
// An IPv4-mapped IPv6 answer is unmapped. The answer is refused when it is
// not an address, or is the unspecified address, a multicast address, the
// IPv4 broadcast address or carries a zone; every other address is accepted
// (loopback and private ones included: a test server answers 127.0.0.1, and
// an operator may reach a VPC over a private network).
func PublicIP(ctx context.Context, rawURL string, client *http.Client) (netip.Addr, error) {
	if strings.TrimSpace(rawURL) == "" {
		return netip.Addr{}, fmt.Errorf("public IP: no endpoint URL (give --ip, --ip-from or %s)", EnvIPURL)
	}
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("public IP: %w", err)
	}
	if err := allowedURL(u); err != nil {
		return netip.Addr{}, fmt.Errorf("public IP: %w", err)
	}
	var c http.Client
	if client != nil {
		c = *client // shallow copy: the caller's client is not modified
	} else {
		c.Timeout = PublicIPTimeout
	}
	prev := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := allowedURL(req.URL); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("public IP: %w", err)
	}
	req.Header.Set("Accept", "text/plain, application/json")
	resp, err := c.Do(req)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("public IP from %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxIPBody+1))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("public IP from %s: read answer: %w", u.Redacted(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return netip.Addr{}, fmt.Errorf("public IP from %s: HTTP %d", u.Redacted(), resp.StatusCode)
	}
	if len(body) > MaxIPBody {
		return netip.Addr{}, fmt.Errorf("public IP from %s: the answer is larger than %d bytes; want an address", u.Redacted(), MaxIPBody)
	}
	a, err := ParseIPAnswer(body)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("public IP from %s: %w", u.Redacted(), err)
	}
	return a, nil
}

// ParseIPAnswer reads the body of a "what is my IP" answer: the address as
// text, or a JSON object with an "ip" field. See PublicIP for what is refused.
func ParseIPAnswer(body []byte) (netip.Addr, error) {
	text := string(bytes.TrimSpace(body))
	if strings.HasPrefix(text, "{") {
		var obj struct {
			IP *string `json:"ip"`
		}
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			return netip.Addr{}, fmt.Errorf("the answer is not valid JSON: %v", err)
		}
		if obj.IP == nil {
			return netip.Addr{}, errors.New(`the JSON answer has no "ip" field`)
		}
		text = strings.TrimSpace(*obj.IP)
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("the answer %q is not an IP address", shorten(text))
	}
	return checkAddr(a)
}

// allowedURL accepts https:// URLs, and http:// ones to a loopback name.
func allowedURL(u *url.URL) error {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return fmt.Errorf("%q: want an https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", u.Redacted())
	}
	if scheme == "https" {
		return nil
	}
	switch strings.ToLower(u.Hostname()) {
	case "127.0.0.1", "::1", "localhost":
		return nil
	}
	return fmt.Errorf("%q: plain http:// is allowed only to 127.0.0.1, ::1 or localhost; use https://", u.Redacted())
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
