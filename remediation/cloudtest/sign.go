package cloudtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

const signAlgorithm = "ACS3-HMAC-SHA256"

// verify checks the ACS3-HMAC-SHA256 signature the way openapi-util's
// GetAuthorization computes it, then the credentials. Not checked: clock
// skew of x-acs-date and nonce reuse (the SDK makes a fresh nonce per
// attempt; replaying fixtures with old dates must keep working).
func (s *Server) verify(r *http.Request, body []byte) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return errorf(400, "IncompleteSignature", "The request has no Authorization header; only %s signatures are accepted.", signAlgorithm)
	}
	rest, ok := strings.CutPrefix(auth, signAlgorithm+" ")
	if !ok {
		return errorf(400, "IncompleteSignature", "Unsupported signature algorithm in %q; only %s is accepted.", auth, signAlgorithm)
	}
	var cred, signedList, sig string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signedList = v
		case "Signature":
			sig = v
		}
	}
	if cred == "" || signedList == "" || sig == "" {
		return errorf(400, "IncompleteSignature", "The Authorization header lacks Credential, SignedHeaders or Signature.")
	}
	if cred != s.ak {
		return errorf(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}

	signed := strings.Split(signedList, ";")
	isSigned := make(map[string]bool, len(signed))
	for _, h := range signed {
		isSigned[h] = true
	}
	// Headers every SDK request signs; a request missing one is incomplete.
	for _, h := range [...]string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
		if !isSigned[h] || (h != "host" && r.Header.Get(h) == "") {
			return errorf(400, "IncompleteSignature", "Header %q must be present and signed.", h)
		}
	}
	for k := range r.Header { // every x-acs-* header sent must be signed
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-acs-") && !isSigned[lk] {
			return errorf(400, "IncompleteSignature", "Header %q is not signed.", lk)
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date")); err != nil {
		return errorf(400, "InvalidTimeStamp.Format", "Specified time stamp %q is not in UTC yyyy-MM-ddTHH:mm:ssZ.", r.Header.Get("x-acs-date"))
	}

	tok := r.Header.Get("x-acs-security-token")
	switch {
	case s.token == "" && tok != "":
		return errorf(403, "InvalidSecurityToken.Mismatch", "Specified security token is not valid (the server expects none).")
	case s.token != "" && (tok != s.token || r.Header.Get("x-acs-accesskey-id") != s.ak):
		return errorf(403, "InvalidSecurityToken.Mismatch", "Specified security token is missing or does not match.")
	}

	payloadHash := r.Header.Get("x-acs-content-sha256")
	sum := sha256.Sum256(body)
	if payloadHash != hex.EncodeToString(sum[:]) {
		return errorf(403, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the request body.")
	}

	cr := canonicalRequest(r, signed, payloadHash)
	crSum := sha256.Sum256([]byte(cr))
	stringToSign := signAlgorithm + "\n" + hex.EncodeToString(crSum[:])
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write([]byte(stringToSign))
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return errorf(403, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
	}
	return nil
}

// canonicalRequest mirrors openapi-util GetAuthorization: query keys sorted
// bytewise and left as they are, values QueryEscape'd then "+"->"%20",
// "*"->"%2A", "%7E"->"~"; headers in SignedHeaders order, values trimmed,
// repeated values sorted and joined with ",".
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(rfc3986(path))
	b.WriteByte('\n')

	q, _ := url.ParseQuery(r.URL.RawQuery) // already validated by parseParams
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	first := true
	for _, k := range keys {
		vs := q[k]
		sort.Strings(vs)
		for _, v := range vs {
			if !first {
				b.WriteByte('&')
			}
			first = false
			b.WriteString(rfc3986(k))
			b.WriteByte('=')
			b.WriteString(rfc3986(url.QueryEscape(v)))
		}
	}
	b.WriteByte('\n')

	for _, h := range signed {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(h) {
				vals = append(vals, strings.TrimSpace(v))
			}
			sort.Strings(vals)
		}
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// rfc3986 applies the SDK's post-encoding fix-ups (the SDK applies them to
// the whole query string, keys included).
func rfc3986(s string) string {
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(s)
}
