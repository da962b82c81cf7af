package remediation

import (
	"maps"
	"testing"

	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	openapiutil "github.com/alibabacloud-go/openapi-util/service"
	"github.com/alibabacloud-go/tea/tea"
)

// The CallApi forms of Revoke and Authorize send exactly the query the
// typed SDK calls build (openapiutil.Query flattens their requests).
func TestRevokeAndAuthorizeQueryAsTyped(t *testing.T) {
	ids := []string{"sgr-1", "sgr-2", "sgr-3", "sgr-4", "sgr-5", "sgr-6", "sgr-7", "sgr-8", "sgr-9", "sgr-10", "sgr-11"}
	typedRevoke := openapiutil.Query(map[string]any{
		"RegionId": tea.String("cn-hangzhou"), "SecurityGroupId": tea.String("sg-1"), "SecurityGroupRuleId": tea.StringSlice(ids),
	})
	if got := revokeQuery("cn-hangzhou", "sg-1", ids); !equalQuery(got, typedRevoke) {
		t.Errorf("revoke query\n got %v\nwant %v", deref(got), deref(typedRevoke))
	}

	rules := []Rule{
		{Policy: "Accept", Priority: 1, IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", SourcePortRange: "-1/-1",
			NicType: "intranet", Description: "ssh from the office, 100% sure"},
		{Policy: "drop", Priority: 0, IpProtocol: "ALL", PortRange: "-1/-1", Ipv6SourceCidrIp: "2001:db8::/32", SourcePortRange: "1000/2000"},
		{IpProtocol: "UDP", PortRange: "53/53", SourceGroupId: "sg-other", SourcePrefixListId: "pl-1", DestCidrIp: "192.168.0.0/16",
			Ipv6DestCidrIp: "fd00::/8", Priority: 100},
	}
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return tea.String(v)
	}
	var perms []*ecs.AuthorizeSecurityGroupRequestPermissions
	for _, r := range rules {
		perms = append(perms, &ecs.AuthorizeSecurityGroupRequestPermissions{
			Policy: opt(r.Policy), Priority: tea.String(tea.ToString(r.Priority.Effective())),
			IpProtocol: opt(r.IpProtocol), PortRange: opt(r.PortRange),
			SourceCidrIp: opt(r.SourceCidrIp), Ipv6SourceCidrIp: opt(r.Ipv6SourceCidrIp),
			SourceGroupId: opt(r.SourceGroupId), SourcePrefixListId: opt(r.SourcePrefixListId),
			SourcePortRange: opt(anyPortsAsEmpty(r.SourcePortRange)), DestCidrIp: opt(r.DestCidrIp), Ipv6DestCidrIp: opt(r.Ipv6DestCidrIp),
			NicType: opt(r.NicType), Description: opt(r.Description),
		})
	}
	typedAuthorize := openapiutil.Query(map[string]any{
		"RegionId": tea.String("cn-hangzhou"), "SecurityGroupId": tea.String("sg-1"), "Permissions": perms,
	})
	got := authorizeQuery("cn-hangzhou", "sg-1", rules)
	if !equalQuery(got, typedAuthorize) {
		t.Errorf("authorize query\n got %v\nwant %v", deref(got), deref(typedAuthorize))
	}
	for _, k := range []string{"Permissions.1.Priority", "Permissions.2.Priority", "Permissions.3.SourcePrefixListId", "Permissions.2.SourcePortRange"} {
		if got[k] == nil {
			t.Errorf("%s missing", k)
		}
	}
	if got["Permissions.1.SourcePortRange"] != nil {
		t.Errorf("source ports -1/-1 sent: ECS refuses them for TCP")
	}
}

func deref(q map[string]*string) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		out[k] = tea.StringValue(v)
	}
	return out
}

func equalQuery(a, b map[string]*string) bool { return maps.Equal(deref(a), deref(b)) }
