// Package cloudtest is a local emulator of the subset of the Alibaba Cloud ECS
// (2014-05-26), Cloud Config (2020-09-07) and STS (2015-04-01) OpenAPI that
// the product uses.
//
// In the spirit of net/http/httptest, New starts a server on 127.0.0.1 at a
// random port. The real SDK clients talk to it unchanged: set
// Config.Endpoint = s.Endpoint() and Config.Protocol = "http" (the STS v2
// client too). ECS and Config requests must carry a valid ACS3-HMAC-SHA256
// signature; STS takes ACS3 and the legacy RPC signature (HMAC-SHA1 over
// the canonicalized query, with Action, Version, AccessKeyId, SignatureNonce,
// Timestamp, SecurityToken and Signature as query parameters) that the STS
// v2 SDK sends. All APIs share one listener; ACS3 requests are dispatched on
// the x-acs-action and x-acs-version headers, legacy ones on the signed
// Action and Version parameters.
//
// Supported actions:
//   - ECS: DescribeSecurityGroupAttribute, DescribeSecurityGroups (NextToken
//     and MaxResults, or the legacy PageNumber and PageSize; filters
//     SecurityGroupId(s), VpcId, SecurityGroupName, SecurityGroupType,
//     ServiceManaged, Tag.N), DescribeRegions, RevokeSecurityGroup,
//     AuthorizeSecurityGroup.
//   - Config: GetDiscoveredResource, GetAggregateDiscoveredResource,
//     PutEvaluations.
//   - STS: AssumeRole, GetCallerIdentity.
//
// Accounts: the credentials of Options belong to DefaultAccountID. AddAccount,
// AddKey, RevokeKey and RotateKey manage more; AddRole declares roles that
// AssumeRole may assume, whose temporary keys act for the role's account
// only and die with the key that assumed them; AddAggregator declares Config
// account groups. Every group has an owner (Group.AccountId) and is visible
// only to that account's keys: another account's group is
// InvalidSecurityGroupId.NotFound (ECS) or ResourceNotExist (Config).
//
// State (security groups, their live rules and the snapshot Cloud Config
// recorded) is loaded with Load, LoadFile, AddGroup, AddGroups (see
// GenerateGroups for large fixtures) and changed by the API calls or by the
// test through SetLiveRules, Resnapshot and DeleteGroup. PutEvaluations
// takes result tokens from NewResultToken and records into Evaluations.
// Every call is recorded with its caller's account (Calls) and faults can
// be injected (FailNext, SetLatency, SetQuota, Before), for every action. A
// Server is safe for concurrent use.
package cloudtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// API versions served.
const (
	ECSVersion    = "2014-05-26"
	ConfigVersion = "2020-09-07"
	STSVersion    = "2015-04-01"
)

// maxBody bounds the request body read (ECS bodies are tiny form posts).
const maxBody = 8 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// AccessKeyID and AccessKeySecret are the credentials of the default
	// account (DefaultAccountID); AddKey and AssumeRole add more.
	// Defaults: "test-ak" and "test-secret".
	AccessKeyID, AccessKeySecret string
	// SecurityToken, when non-empty, must be sent in x-acs-security-token
	// (together with x-acs-accesskey-id), as the SDK does with STS
	// credentials. When empty, a request carrying a token is rejected.
	SecurityToken string
	// Latency is added to every call (see SetLatency).
	Latency time.Duration
	// Log, if non-nil, receives one line per call.
	Log io.Writer
	// DuplicateIsSuccess makes AuthorizeSecurityGroup answer 200 (creating
	// nothing) for a rule identical to an existing one, as some API versions
	// do, instead of 400 InvalidPermission.Duplicate.
	DuplicateIsSuccess bool
}

// Server is a running emulator. Create it with New and stop it with Close.
type Server struct {
	dupOK bool
	log   io.Writer
	logMu sync.Mutex

	ln       net.Listener
	srv      *http.Server
	endpoint string

	// closeMu/closed/wg let Close wait for handlers, like httptest.
	closeMu sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
	done    chan struct{}

	latency     atomic.Int64 // time.Duration
	inflight    atomic.Int64
	maxInflight atomic.Int64

	mu           sync.Mutex // guards the cloud state below
	groups       map[string]*group
	byOwner      map[ownerRegion]*groupIndex // live listing order per account and region
	regions      map[string]bool             // every region with a group
	extraRegions []string                    // SetRegions
	seq          uint64                      // for generated rule IDs

	amu          sync.RWMutex // guards accounts, keys and Config rule state below
	accounts     map[string]*account
	keys         map[string]*accessKey // by AccessKeyId
	aggregators  map[string]*aggregator
	resultTokens map[string]bool
	evaluations  []Evaluation

	fmu    sync.Mutex // guards calls and faults below
	calls  []Call
	counts map[string]int
	faults []fault
	quota  bucket
	hooks  map[string]func(url.Values)
}

// New starts a server listening on 127.0.0.1 at a random port.
func New(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = "test-ak"
	}
	if opts.AccessKeySecret == "" {
		opts.AccessKeySecret = "test-secret"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cloudtest: listen: %w", err)
	}
	s := &Server{
		dupOK:        opts.DuplicateIsSuccess,
		log:          opts.Log,
		ln:           ln,
		endpoint:     ln.Addr().String(),
		done:         make(chan struct{}),
		groups:       make(map[string]*group),
		byOwner:      make(map[ownerRegion]*groupIndex),
		regions:      make(map[string]bool),
		accounts:     make(map[string]*account),
		keys:         make(map[string]*accessKey),
		aggregators:  make(map[string]*aggregator),
		resultTokens: make(map[string]bool),
		counts:       make(map[string]int),
		hooks:        make(map[string]func(url.Values)),
	}
	s.addAccountLocked(DefaultAccountID)
	s.keys[opts.AccessKeyID] = &accessKey{Key: Key{AccessKeyID: opts.AccessKeyID, AccessKeySecret: opts.AccessKeySecret,
		SecurityToken: opts.SecurityToken, AccountID: DefaultAccountID}}
	s.latency.Store(int64(opts.Latency))
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) // returns http.ErrServerClosed after Close
	return s, nil
}

// Close stops the server and waits for the calls being served to finish
// (latency sleeps are cut short).
func (s *Server) Close() {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.closeMu.Unlock()
	s.srv.Close()
	s.wg.Wait()
}

// Endpoint returns "127.0.0.1:PORT", the value for the SDK's Config.Endpoint.
func (s *Server) Endpoint() string { return s.endpoint }

// URL returns "http://127.0.0.1:PORT".
func (s *Server) URL() string { return "http://" + s.endpoint }

// apiError is an OpenAPI error answer.
type apiError struct {
	Status        int
	Code, Message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func missingParam(name string) *apiError {
	return errorf(400, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func invalidParam(name, value string) *apiError {
	return errorf(400, "InvalidParameter", "The specified parameter %q is not valid: %q.", name, value)
}

// request is what a handler sees of one call.
type request struct {
	action    string
	params    url.Values
	requestID string
	caller    *accessKey // nil until the signature is verified
}

// account is the caller's account ("" before the signature is verified).
func (r *request) account() string {
	if r.caller == nil {
		return ""
	}
	return r.caller.AccountID
}

type handler func(s *Server, r *request) (any, *apiError)

// lookup returns the handler of an action, nil if it is not served.
func lookup(version, action string) handler {
	switch version + "/" + action {
	case ECSVersion + "/DescribeSecurityGroupAttribute":
		return (*Server).describeSecurityGroupAttribute
	case ECSVersion + "/DescribeSecurityGroups":
		return (*Server).describeSecurityGroups
	case ECSVersion + "/RevokeSecurityGroup":
		return (*Server).revokeSecurityGroup
	case ECSVersion + "/AuthorizeSecurityGroup":
		return (*Server).authorizeSecurityGroup
	case ECSVersion + "/DescribeRegions":
		return (*Server).describeRegions
	case ConfigVersion + "/GetDiscoveredResource":
		return (*Server).getDiscoveredResource
	case ConfigVersion + "/GetAggregateDiscoveredResource":
		return (*Server).getAggregateDiscoveredResource
	case ConfigVersion + "/PutEvaluations":
		return (*Server).putEvaluations
	case STSVersion + "/AssumeRole":
		return (*Server).assumeRole
	case STSVersion + "/GetCallerIdentity":
		return (*Server).getCallerIdentity
	}
	return nil
}

// ServeHTTP serves one OpenAPI call. Order: signature, action lookup, quota,
// FailNext, Before hook, latency, handler. Latency is applied to every call,
// failing ones included.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.closeMu.RUnlock()
	defer s.wg.Done()

	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for m := s.maxInflight.Load(); n > m && !s.maxInflight.CompareAndSwap(m, n); m = s.maxInflight.Load() {
	}

	start := time.Now()
	req := &request{action: hr.Header.Get("x-acs-action"), requestID: newRequestID()}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody))
	var out any
	var aerr *apiError
	if err != nil {
		aerr = errorf(400, "InvalidParameter", "reading the request body: %v", err)
	} else {
		req.params, aerr = parseParams(hr, body)
	}
	if aerr == nil {
		out, aerr = s.serve(hr, body, req)
	} else {
		s.sleep()
		req.params = url.Values{}
	}

	status := http.StatusOK
	code := ""
	if aerr != nil {
		status, code = aerr.Status, aerr.Code
		out = map[string]string{
			"RequestId": req.requestID,
			"HostId":    hr.Host,
			"Code":      aerr.Code,
			"Message":   aerr.Message,
			"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(aerr.Code) + "&requestId=" + req.requestID,
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		status, code = 500, "InternalError"
		buf.Reset()
		fmt.Fprintf(&buf, `{"RequestId":%q,"Code":"InternalError","Message":%q}`, req.requestID, err.Error())
	}
	// Record and log before answering, so that a client sees its call in
	// Calls and the log as soon as it has the answer.
	c := Call{Action: req.action, Params: req.params, Status: status, Code: code, At: start}
	if req.caller != nil {
		c.AccountID, c.AccessKeyID = req.caller.AccountID, req.caller.AccessKeyID
	}
	s.record(c)
	if s.log != nil {
		s.logMu.Lock()
		fmt.Fprintf(s.log, "cloudtest: %s %s account=%s region=%s id=%s%s status=%d code=%s dur=%s\n",
			start.UTC().Format(time.RFC3339Nano), req.action, c.AccountID,
			req.params.Get("RegionId")+req.params.Get("Region"),
			req.params.Get("SecurityGroupId")+req.params.Get("ResourceId"),
			ruleIDsForLog(req.params), status, code, time.Since(start).Round(time.Microsecond))
		s.logMu.Unlock()
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("x-acs-request-id", req.requestID)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// serve authenticates the call, then runs the fault pipeline and the
// handler.
func (s *Server) serve(hr *http.Request, body []byte, req *request) (any, *apiError) {
	fail := func(e *apiError) (any, *apiError) {
		s.sleep()
		return nil, e
	}
	version := hr.Header.Get("x-acs-version")
	var caller *accessKey
	var e *apiError
	if isRPCSigned(hr, req.params) {
		// Legacy RPC signature: Action and Version are signed query
		// parameters; headers, if sent, must agree.
		caller, e = s.verifyRPC(hr, req.params)
		action, qversion := req.params.Get("Action"), req.params.Get("Version")
		for _, k := range rpcProtocolParams {
			req.params.Del(k)
		}
		switch {
		case e != nil:
		case req.action != "" && req.action != action, version != "" && version != qversion:
			e = errorf(400, "InvalidParameter", "The x-acs-action/x-acs-version headers (%q, %q) differ from Action/Version (%q, %q).", req.action, version, action, qversion)
		case qversion != STSVersion:
			e = errorf(400, "IncompleteSignature", "Version %s takes only %s signatures.", qversion, signAlgorithm)
		}
		req.action, version = action, qversion
	} else {
		caller, e = s.verify(hr, body)
	}
	if e != nil {
		return fail(e)
	}
	req.caller = caller
	action := req.action
	h := lookup(version, action)
	if h == nil {
		return fail(errorf(400, "InvalidAction.NotFound", "Specified api %q is not found for version %q.", action, version))
	}
	if !s.takeToken() {
		return fail(errorf(400, "Throttling.User", "Request was denied due to user flow control."))
	}
	if e := s.takeFault(action); e != nil {
		return fail(e)
	}
	s.runHooks(action, req.params)
	s.sleep()
	return h(s, req)
}

// sleep waits for the configured latency (never with a lock held).
func (s *Server) sleep() {
	d := time.Duration(s.latency.Load())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
	}
}

// parseParams merges the query string and a form body, if any.
func parseParams(hr *http.Request, body []byte) (url.Values, *apiError) {
	q, err := url.ParseQuery(hr.URL.RawQuery)
	if err != nil {
		return nil, errorf(400, "InvalidParameter", "malformed query string: %v", err)
	}
	if len(body) > 0 {
		if mt, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			f, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, errorf(400, "InvalidParameter", "malformed form body: %v", err)
			}
			for k, vs := range f {
				q[k] = append(q[k], vs...)
			}
		}
	}
	return q, nil
}

func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(errors.New("cloudtest: crypto/rand failed"))
	}
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}
