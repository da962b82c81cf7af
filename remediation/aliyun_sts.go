package remediation

import (
	"context"
	"fmt"

	sts "github.com/alibabacloud-go/sts-20150401/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// stsEndpoint returns the host and protocol of STS: the override, or
// sts.<function region>.aliyuncs.com.
func (c *Cloud) stsEndpoint() (string, string) {
	if c.stsHost != "" {
		return c.stsHost, c.stsProtocol
	}
	region := c.FunctionRegion
	if region == "" {
		region = c.configRegion
	}
	return "sts." + region + ".aliyuncs.com", "https"
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

// AssumeRole implements STSAPI.
func (c *Cloud) AssumeRole(ctx context.Context, roleArn, sessionName string, durationSeconds int) (AssumedCredentials, error) {
	const action = "AssumeRole"
	host, _ := c.stsEndpoint()
	rt, err := c.runtime(ctx, host)
	if err != nil {
		return AssumedCredentials{}, fmt.Errorf("%s: %w", action, err)
	}
	cl, done, err := c.stsClient()
	if err != nil {
		return AssumedCredentials{}, err
	}
	defer done()
	resp, err := cl.AssumeRoleWithOptions(&sts.AssumeRoleRequest{
		RoleArn: tea.String(roleArn), RoleSessionName: tea.String(sessionName), DurationSeconds: tea.Int64(int64(durationSeconds)),
	}, rt)
	if err != nil {
		return AssumedCredentials{}, apiError(action, err)
	}
	cr := resp.Body.Credentials
	if cr == nil || tea.StringValue(cr.AccessKeyId) == "" {
		return AssumedCredentials{}, &APIError{Action: action, Code: "NoCredentials", StatusCode: 200, Message: "the answer carries no credentials"}
	}
	return AssumedCredentials{AccessKeyID: tea.StringValue(cr.AccessKeyId), AccessKeySecret: tea.StringValue(cr.AccessKeySecret),
		SecurityToken: tea.StringValue(cr.SecurityToken)}, nil
}

// CallerIdentity is who the credentials belong to.
type CallerIdentity struct{ AccountID, Arn string }

// GetCallerIdentity asks STS whose credentials these are (audit's
// --event-out; replay --live in account group mode). It needs no permission.
func (c *Cloud) GetCallerIdentity(ctx context.Context) (CallerIdentity, error) {
	const action = "GetCallerIdentity"
	host, _ := c.stsEndpoint()
	rt, err := c.runtime(ctx, host)
	if err != nil {
		return CallerIdentity{}, fmt.Errorf("%s: %w", action, err)
	}
	cl, done, err := c.stsClient()
	if err != nil {
		return CallerIdentity{}, err
	}
	defer done()
	resp, err := cl.GetCallerIdentityWithOptions(rt)
	if err != nil {
		return CallerIdentity{}, apiError(action, err)
	}
	return CallerIdentity{AccountID: tea.StringValue(resp.Body.AccountId), Arn: tea.StringValue(resp.Body.Arn)}, nil
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
