package cloudtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

const signAlgorithm = "ACS3-HMAC-SHA256"

// verify checks the ACS3-HMAC-SHA256 signature the way openapi-util's
// GetAuthorization computes it, then the credentials, and returns the
// caller's key. Not checked: clock skew of x-acs-date and nonce reuse (the
// SDK makes a fresh nonce per attempt; replaying fixtures with old dates
// must keep working).
func (s *Server) verify(r *http.Request, body []byte) (*accessKey, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, errorf(400, "IncompleteSignature", "The request has no Authorization header; only %s signatures are accepted.", signAlgorithm)
	}
	rest, ok := strings.CutPrefix(auth, signAlgorithm+" ")
	if !ok {
		return nil, errorf(400, "IncompleteSignature", "Unsupported signature algorithm in %q; only %s is accepted.", auth, signAlgorithm)
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
		return nil, errorf(400, "IncompleteSignature", "The Authorization header lacks Credential, SignedHeaders or Signature.")
	}
	key := s.key(cred)
	if key == nil {
		return nil, errorf(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}

	signed := strings.Split(signedList, ";")
	isSigned := make(map[string]bool, len(signed))
	for _, h := range signed {
		isSigned[h] = true
	}
	// Headers every SDK request signs; a request missing one is incomplete.
	for _, h := range [...]string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
		if !isSigned[h] || (h != "host" && r.Header.Get(h) == "") {
			return nil, errorf(400, "IncompleteSignature", "Header %q must be present and signed.", h)
		}
	}
	for k := range r.Header { // every x-acs-* header sent must be signed
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-acs-") && !isSigned[lk] {
			return nil, errorf(400, "IncompleteSignature", "Header %q is not signed.", lk)
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date")); err != nil {
		return nil, errorf(400, "InvalidTimeStamp.Format", "Specified time stamp %q is not in UTC yyyy-MM-ddTHH:mm:ssZ.", r.Header.Get("x-acs-date"))
	}

	tok := r.Header.Get("x-acs-security-token")
	if e := checkToken(key, tok, tok == "" || r.Header.Get("x-acs-accesskey-id") == cred); e != nil {
		return nil, e
	}

	payloadHash := r.Header.Get("x-acs-content-sha256")
	sum := sha256.Sum256(body)
	if payloadHash != hex.EncodeToString(sum[:]) {
		return nil, errorf(403, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the request body.")
	}

	cr := canonicalRequest(r, signed, payloadHash)
	crSum := sha256.Sum256([]byte(cr))
	stringToSign := signAlgorithm + "\n" + hex.EncodeToString(crSum[:])
	mac := hmac.New(sha256.New, []byte(key.AccessKeySecret))
	mac.Write([]byte(stringToSign))
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, errorf(403, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
	}
	return key, s.alive(key)
}

// key returns the key with this access key id, nil if unknown.
func (s *Server) key(ak string) *accessKey {
	s.amu.RLock()
	defer s.amu.RUnlock()
	return s.keys[ak]
}

// checkToken compares the security token sent (tok) with the key's;
// idOK says the token came with the matching x-acs-accesskey-id.
func checkToken(key *accessKey, tok string, idOK bool) *apiError {
	switch {
	case key.SecurityToken == "" && tok != "":
		return errorf(403, "InvalidSecurityToken.Mismatch", "Specified security token is not valid (this access key takes none).")
	case key.SecurityToken != "" && (tok != key.SecurityToken || !idOK):
		return errorf(403, "InvalidSecurityToken.Mismatch", "Specified security token is missing or does not match.")
	}
	return nil
}

// alive rejects a revoked or expired key: InvalidSecurityToken.Expired for
// STS credentials, InvalidAccessKeyId.NotFound for a deleted long-term key.
func (s *Server) alive(key *accessKey) *apiError {
	s.amu.RLock()
	why := key.deadReason(time.Now())
	s.amu.RUnlock()
	switch {
	case why == "":
		return nil
	case key.SecurityToken != "":
		return errorf(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired (%s).", why)
	default:
		return errorf(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found (%s).", why)
	}
}

// rpcProtocolParams are the query parameters of the legacy RPC signature;
// handlers and the call log do not see them.
var rpcProtocolParams = [...]string{"Action", "Version", "Format", "Timestamp", "SignatureNonce",
	"SignatureMethod", "SignatureVersion", "SignatureType", "AccessKeyId", "SecurityToken", "Signature"}

// isRPCSigned tells a request signed with the legacy RPC signature
// (Signature in the parameters, no Authorization header).
func isRPCSigned(r *http.Request, params url.Values) bool {
	return r.Header.Get("Authorization") == "" && params.Has("Signature")
}

// verifyRPC checks the legacy RPC signature that openapi-util's
// GetRPCSignature computes (the STS SDK uses it): base64(HMAC-SHA1(secret+"&",
// method + "&%2F&" + percentEncode(canonicalized parameters))), over every
// query and form parameter but Signature. It returns the caller's key.
func (s *Server) verifyRPC(r *http.Request, params url.Values) (*accessKey, *apiError) {
	if m := params.Get("SignatureMethod"); m != "HMAC-SHA1" {
		return nil, errorf(400, "InvalidParameter.SignatureMethod", "SignatureMethod %q is not supported; use HMAC-SHA1.", m)
	}
	if v := params.Get("SignatureVersion"); v != "1.0" {
		return nil, errorf(400, "InvalidParameter.SignatureVersion", "SignatureVersion %q is not supported; use 1.0.", v)
	}
	for _, name := range [...]string{"AccessKeyId", "SignatureNonce", "Timestamp", "Action", "Version"} {
		if params.Get(name) == "" {
			return nil, missingParam(name)
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", params.Get("Timestamp")); err != nil {
		return nil, errorf(400, "InvalidTimeStamp.Format", "Specified time stamp %q is not in UTC yyyy-MM-ddTHH:mm:ssZ.", params.Get("Timestamp"))
	}
	key := s.key(params.Get("AccessKeyId"))
	if key == nil {
		return nil, errorf(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	if e := checkToken(key, params.Get("SecurityToken"), true); e != nil {
		return nil, e
	}
	signed := make(url.Values, len(params))
	for k, vs := range params {
		if k != "Signature" {
			signed[k] = vs
		}
	}
	stringToSign := r.Method + "&%2F&" + url.QueryEscape(rfc3986(signed.Encode()))
	mac := hmac.New(sha1.New, []byte(key.AccessKeySecret+"&"))
	mac.Write([]byte(stringToSign))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(params.Get("Signature")), []byte(want)) {
		return nil, errorf(403, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
	}
	return key, s.alive(key)
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
