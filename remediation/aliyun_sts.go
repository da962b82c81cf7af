package remediation

import (
	"context"

	sts "github.com/alibabacloud-go/sts-20150401/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
)

// stsRegion is the region whose STS endpoint and quota the calls use: the
// function's, else Config's.
func (c *Cloud) stsRegion() string {
	if c.FunctionRegion != "" {
		return c.FunctionRegion
	}
	return c.configRegion
}

// stsEndpoint returns the host and protocol of STS: the override, or
// sts.<function region>.aliyuncs.com.
func (c *Cloud) stsEndpoint() (string, string) {
	if c.stsHost != "" {
		return c.stsHost, c.stsProtocol
	}
	return "sts." + c.stsRegion() + ".aliyuncs.com", "https"
}

// stsClient borrows an STS client. The STS SDK signs with the older
// HMAC-SHA1 RPC signature, which STS accepts.
func (c *Cloud) stsClient() (*sts.Client, func(), error) {
	host, proto := c.stsEndpoint()
	cl, done, err := c.take("sts "+proto+"://"+host, func() (any, error) {
		return sts.NewClient(c.sdkConfig(host, proto, c.FunctionRegion))
	})
	if err != nil {
		return nil, nil, err
	}
	return cl.(*sts.Client), done, nil
}

// stsCall runs one STS call paced by the rate limiter (STS has quotas
// too), like every other call.
func (c *Cloud) stsCall(ctx context.Context, action, resource string, call func(*sts.Client, *util.RuntimeOptions) error) error {
	cl, done, err := c.stsClient()
	if err != nil {
		return &CallError{Action: action, Resource: resource, Local: true, Err: err}
	}
	defer done()
	host, _ := c.stsEndpoint()
	return c.paced(ctx, RateKey{Region: c.stsRegion(), Action: action}, resource, host, func(rt *util.RuntimeOptions) error {
		return call(cl, rt)
	})
}

// AssumeRole implements STSAPI.
func (c *Cloud) AssumeRole(ctx context.Context, roleArn, sessionName string, durationSeconds int) (AssumedCredentials, error) {
	var out AssumedCredentials
	err := c.stsCall(ctx, "AssumeRole", roleArn, func(cl *sts.Client, rt *util.RuntimeOptions) error {
		resp, err := cl.AssumeRoleWithOptions(&sts.AssumeRoleRequest{
			RoleArn: tea.String(roleArn), RoleSessionName: tea.String(sessionName), DurationSeconds: tea.Int64(int64(durationSeconds)),
		}, rt)
		if err != nil {
			return err
		}
		cr := resp.Body.Credentials
		if cr == nil || tea.StringValue(cr.AccessKeyId) == "" {
			return &APIError{Action: "AssumeRole", Resource: roleArn, Code: "NoCredentials", StatusCode: 200, Message: "the answer carries no credentials"}
		}
		out = AssumedCredentials{AccessKeyID: tea.StringValue(cr.AccessKeyId), AccessKeySecret: tea.StringValue(cr.AccessKeySecret),
			SecurityToken: tea.StringValue(cr.SecurityToken)}
		return nil
	})
	return out, err
}

// CallerIdentity is who the credentials belong to.
type CallerIdentity struct{ AccountID, Arn string }

// GetCallerIdentity asks STS whose credentials these are (audit's
// --event-out; replay --live in account group mode). It needs no permission.
func (c *Cloud) GetCallerIdentity(ctx context.Context) (CallerIdentity, error) {
	var out CallerIdentity
	err := c.stsCall(ctx, "GetCallerIdentity", "", func(cl *sts.Client, rt *util.RuntimeOptions) error {
		resp, err := cl.GetCallerIdentityWithOptions(rt)
		if err == nil {
			out = CallerIdentity{AccountID: tea.StringValue(resp.Body.AccountId), Arn: tea.StringValue(resp.Body.Arn)}
		}
		return err
	})
	return out, err
}

// ForCredentials returns a Cloud with the same endpoints and settings that
// signs with other credentials (a member account's assumed keys).
func (c *Cloud) ForCredentials(cr AssumedCredentials) (*Cloud, error) {
	cred, err := StaticCredential(cr.AccessKeyID, cr.AccessKeySecret, cr.SecurityToken)
	if err != nil {
		return nil, err
	}
	n, err := NewCloud(cred, c.settings)
	if err != nil {
		return nil, err
	}
	n.FunctionRegion, n.CallTimeout = c.FunctionRegion, c.CallTimeout
	return n, nil
}
