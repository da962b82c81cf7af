package cloudtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	configsdk "github.com/alibabacloud-go/config-20200907/v3/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

const fixture = `{"groups": [
 {"SecurityGroupId": "sg-web", "RegionId": "cn-hangzhou", "AccountId": "1234567890123456",
  "SecurityGroupName": "web", "VpcId": "vpc-1", "Description": "web servers", "Tags": {"env": "prod", "team": "a"},
  "Permissions": [
   {"SecurityGroupRuleId": "sgr-ssh", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Priority": "1"},
   {"SecurityGroupRuleId": "sgr-rdp", "IpProtocol": "TCP", "PortRange": "3389/3389", "SourceCidrIp": "0.0.0.0/0", "Priority": 1},
   {"SecurityGroupRuleId": "sgr-v6", "IpProtocol": "TCP", "PortRange": "443/443", "Ipv6SourceCidrIp": "::/0", "Priority": "5"},
   {"SecurityGroupRuleId": "sgr-out", "Direction": "egress", "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"}
  ]},
 {"SecurityGroupId": "sg-managed", "RegionId": "cn-hangzhou", "ServiceManaged": true,
  "Permissions": [{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}]},
 {"SecurityGroupId": "sg-flat", "RegionId": "cn-hangzhou", "ConfigShape": "flat",
  "Permissions": [{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Priority": 7}]},
 {"SecurityGroupId": "sg-deleted", "RegionId": "cn-hangzhou", "Deleted": true,
  "Permissions": [{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}]}
]}`

func setup(t *testing.T, opts cloudtest.Options) (*cloudtest.Server, *ecs.Client) {
	t.Helper()
	s := newServer(t, opts)
	load(t, s, fixture)
	return s, ecsClient(t, s, defaultCreds)
}

func ids(rules []*ecs.DescribeSecurityGroupAttributeResponseBodyPermissionsPermission) []string {
	var out []string
	for _, r := range rules {
		out = append(out, tea.StringValue(r.SecurityGroupRuleId))
	}
	return out
}

func liveIDs(t *testing.T, s *cloudtest.Server, id string) []string {
	t.Helper()
	g, ok := s.Group(region, id)
	if !ok {
		t.Fatalf("group %s not live", id)
	}
	var out []string
	for _, r := range g.Permissions {
		out = append(out, r.SecurityGroupRuleId)
	}
	return out
}

func TestDescribeSecurityGroupAttribute(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	resp, err := c.DescribeSecurityGroupAttribute(&ecs.DescribeSecurityGroupAttributeRequest{
		RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Body
	if tea.StringValue(b.RequestId) == "" || tea.StringValue(b.VpcId) != "vpc-1" || tea.StringValue(b.SecurityGroupName) != "web" ||
		tea.StringValue(b.InnerAccessPolicy) != "Accept" || tea.StringValue(b.Description) != "web servers" ||
		tea.StringValue(b.NextToken) != "" || tea.StringValue(b.RegionId) != region {
		t.Errorf("body %v", b)
	}
	ps := b.Permissions.Permission
	if got := ids(ps); !slices.Equal(got, []string{"sgr-ssh", "sgr-rdp", "sgr-v6", "sgr-out"}) {
		t.Fatalf("rules %v", got)
	}
	ssh := ps[0]
	if tea.StringValue(ssh.Priority) != "1" || tea.StringValue(ssh.Policy) != "Accept" || tea.StringValue(ssh.Direction) != "ingress" ||
		tea.StringValue(ssh.NicType) != "intranet" || tea.StringValue(ssh.PortRange) != "22/22" || tea.StringValue(ssh.SourceCidrIp) != "0.0.0.0/0" {
		t.Errorf("ssh rule %v", ssh)
	}
	if tea.StringValue(ps[2].Priority) != "5" || tea.StringValue(ps[2].Ipv6SourceCidrIp) != "::/0" {
		t.Errorf("v6 rule %v", ps[2])
	}
	if got := ids(describeAll(t, c, "sg-web", "ingress")); len(got) != 3 {
		t.Errorf("ingress %v", got)
	}
	if got := ids(describeAll(t, c, "sg-web", "egress")); !slices.Equal(got, []string{"sgr-out"}) {
		t.Errorf("egress %v", got)
	}

	// Priority is a JSON string on the wire.
	st, m := rawCall(t, s, defaultCreds, "POST", "DescribeSecurityGroupAttribute", cloudtest.ECSVersion,
		url.Values{"RegionId": {region}, "SecurityGroupId": {"sg-web"}}, "", nil)
	first := m["Permissions"].(map[string]any)["Permission"].([]any)[0].(map[string]any)
	if st != 200 || first["Priority"] != "1" {
		t.Errorf("raw %d %v", st, first)
	}

	for _, tc := range []struct {
		name   string
		req    ecs.DescribeSecurityGroupAttributeRequest
		status int
		code   string
	}{
		{"unknown group", ecs.DescribeSecurityGroupAttributeRequest{SecurityGroupId: tea.String("sg-nope")}, 404, "InvalidSecurityGroupId.NotFound"},
		{"deleted group", ecs.DescribeSecurityGroupAttributeRequest{SecurityGroupId: tea.String("sg-deleted")}, 404, "InvalidSecurityGroupId.NotFound"},
		{"wrong region", ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String("cn-beijing"), SecurityGroupId: tea.String("sg-web")}, 404, "InvalidSecurityGroupId.NotFound"},
		{"MaxResults 9", ecs.DescribeSecurityGroupAttributeRequest{SecurityGroupId: tea.String("sg-web"), MaxResults: tea.Int32(9)}, 400, "InvalidParameter"},
		{"MaxResults 1001", ecs.DescribeSecurityGroupAttributeRequest{SecurityGroupId: tea.String("sg-web"), MaxResults: tea.Int32(1001)}, 400, "InvalidParameter"},
		{"bad direction", ecs.DescribeSecurityGroupAttributeRequest{SecurityGroupId: tea.String("sg-web"), Direction: tea.String("up")}, 400, "InvalidParameter"},
		{"bad token", ecs.DescribeSecurityGroupAttributeRequest{SecurityGroupId: tea.String("sg-web"), NextToken: tea.String("!!garbage")}, 400, "InvalidNextToken.Malformed"},
		{"no group id", ecs.DescribeSecurityGroupAttributeRequest{}, 400, "MissingParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.RegionId == nil {
				req.RegionId = tea.String(region)
			}
			_, err := c.DescribeSecurityGroupAttribute(&req)
			wantErr(t, err, tc.status, tc.code)
		})
	}
}

func TestPaging2500(t *testing.T) {
	s := newServer(t, cloudtest.Options{})
	rules := make([]cloudtest.Rule, 2600)
	for i := range rules {
		rules[i] = cloudtest.Rule{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", i+1, i+1), SourceCidrIp: "10.0.0.0/8"}
		if i%26 == 25 { // 100 egress rules mixed in
			rules[i].Direction = "egress"
		}
	}
	if err := s.AddGroup(cloudtest.Group{SecurityGroupId: "sg-big", RegionId: region, Permissions: rules}); err != nil {
		t.Fatal(err)
	}
	c := ecsClient(t, s, defaultCreds)
	got := describeAll(t, c, "sg-big", "ingress")
	if n := s.CallCount("DescribeSecurityGroupAttribute"); n != 3 {
		t.Errorf("%d pages, want 3", n)
	}
	seen := make(map[string]bool)
	for _, r := range got {
		id := tea.StringValue(r.SecurityGroupRuleId)
		if seen[id] || tea.StringValue(r.Direction) != "ingress" {
			t.Fatalf("rule %s twice or not ingress", id)
		}
		seen[id] = true
	}
	if len(seen) != 2500 {
		t.Fatalf("%d ingress rules, want 2500", len(seen))
	}
	if all := describeAll(t, c, "sg-big", ""); len(all) != 2600 {
		t.Fatalf("%d rules, want 2600", len(all))
	}
	// A token only works for the listing it came from.
	resp, err := c.DescribeSecurityGroupAttribute(&ecs.DescribeSecurityGroupAttributeRequest{
		RegionId: tea.String(region), SecurityGroupId: tea.String("sg-big"), MaxResults: tea.Int32(1000), Direction: tea.String("ingress")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeSecurityGroupAttribute(&ecs.DescribeSecurityGroupAttributeRequest{
		RegionId: tea.String(region), SecurityGroupId: tea.String("sg-big"), MaxResults: tea.Int32(1000), NextToken: resp.Body.NextToken})
	wantErr(t, err, 400, "InvalidNextToken.Malformed")
}

func TestDescribeSecurityGroups(t *testing.T) {
	_, c := setup(t, cloudtest.Options{})
	resp, err := c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{
		RegionId: tea.String(region), SecurityGroupIds: tea.String(`["sg-web","sg-managed","sg-deleted","sg-nope"]`)})
	if err != nil {
		t.Fatal(err)
	}
	gs := resp.Body.SecurityGroups.SecurityGroup
	if len(gs) != 2 || tea.Int32Value(resp.Body.TotalCount) != 2 {
		t.Fatalf("groups %v", gs)
	}
	mg, web := gs[0], gs[1]
	if tea.StringValue(mg.SecurityGroupId) != "sg-managed" || !tea.BoolValue(mg.ServiceManaged) {
		t.Errorf("managed %v", mg)
	}
	if tea.StringValue(web.SecurityGroupId) != "sg-web" || tea.BoolValue(web.ServiceManaged) || tea.StringValue(web.VpcId) != "vpc-1" ||
		tea.StringValue(web.SecurityGroupName) != "web" || len(web.Tags.Tag) != 2 ||
		tea.StringValue(web.Tags.Tag[0].TagKey) != "env" || tea.StringValue(web.Tags.Tag[0].TagValue) != "prod" {
		t.Errorf("web %v", web)
	}
	resp, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-flat")})
	if err != nil || len(resp.Body.SecurityGroups.SecurityGroup) != 1 {
		t.Fatalf("single id: %v %v", resp, err)
	}
	resp, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String(region)})
	if err != nil || tea.Int32Value(resp.Body.TotalCount) != 3 || tea.Int32Value(resp.Body.PageSize) != 10 || tea.Int32Value(resp.Body.PageNumber) != 1 {
		t.Fatalf("all: %v %v", resp, err)
	}
	_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String(region), SecurityGroupIds: tea.String("sg-web")})
	wantErr(t, err, 400, "InvalidParameter")
}

func TestRevokeByID(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	if err := revokeIDs(c, "sg-web", "sgr-ssh", "sgr-rdp"); err != nil {
		t.Fatal(err)
	}
	if got := liveIDs(t, s, "sg-web"); !slices.Equal(got, []string{"sgr-v6", "sgr-out"}) {
		t.Fatalf("live %v", got)
	}
	if got := s.Calls()[0].Params; got.Get("SecurityGroupRuleId.1") != "sgr-ssh" || got.Get("SecurityGroupRuleId.2") != "sgr-rdp" {
		t.Errorf("params %v", got)
	}
	// Already gone: 400 InvalidParam.SecurityGroupRuleId.
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh"), 400, "InvalidParam.SecurityGroupRuleId")
}

func TestRevokeAllOrNothing(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	before := liveIDs(t, s, "sg-web")
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh", "sgr-unknown"), 400, "InvalidParam.SecurityGroupRuleId")
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh", "sgr-out"), 400, "InvalidParam.SecurityGroupRuleId") // egress
	if got := liveIDs(t, s, "sg-web"); !slices.Equal(got, before) {
		t.Fatalf("live %v, want %v", got, before)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = "sgr-ssh"
	}
	wantErr(t, revokeIDs(c, "sg-web", many...), 400, "InvalidParam.SecurityGroupRuleId")
	if err := revokeIDs(c, "sg-web", many[:100]...); err != nil { // 100 is allowed
		t.Fatal(err)
	}
}

func TestRevokeErrors(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	wantErr(t, revokeIDs(c, "sg-nope", "sgr-ssh"), 404, "InvalidSecurityGroupId.NotFound")
	wantErr(t, revokeIDs(c, "sg-deleted", "sgr-x"), 404, "InvalidSecurityGroupId.NotFound")
	mg, _ := s.Group(region, "sg-managed")
	wantErr(t, revokeIDs(c, "sg-managed", mg.Permissions[0].SecurityGroupRuleId), 403, "InvalidOperation.ResourceManagedByCloudProduct")
	_, err := c.RevokeSecurityGroup(&ecs.RevokeSecurityGroupRequest{RegionId: tea.String("cn-beijing"), SecurityGroupId: tea.String("sg-web"),
		SecurityGroupRuleId: tea.StringSlice([]string{"sgr-ssh"})})
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	if err := s.DeleteGroup(region, "sg-web"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh"), 404, "InvalidSecurityGroupId.NotFound")
	_, err = c.RevokeSecurityGroup(&ecs.RevokeSecurityGroupRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-flat")})
	wantErr(t, err, 400, "MissingParameter")
}

// The legacy attribute form matches loosely: it removes every ingress rule
// with those attributes, whatever the rest (policy, priority, description).
func TestRevokeLegacyAttributeForm(t *testing.T) {
	s := newServer(t, cloudtest.Options{})
	load(t, s, `{"groups":[{"SecurityGroupId":"sg-1","RegionId":"cn-hangzhou","Permissions":[
		{"SecurityGroupRuleId":"sgr-a","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Description":"ops"},
		{"SecurityGroupRuleId":"sgr-b","IpProtocol":"tcp","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Policy":"Drop","Priority":2},
		{"SecurityGroupRuleId":"sgr-c","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"10.0.0.0/8"},
		{"SecurityGroupRuleId":"sgr-d","Direction":"egress","IpProtocol":"TCP","PortRange":"22/22","DestCidrIp":"0.0.0.0/0"}]}]}`)
	c := ecsClient(t, s, defaultCreds)
	_, err := c.RevokeSecurityGroup(&ecs.RevokeSecurityGroupRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-1"),
		IpProtocol: tea.String("tcp"), PortRange: tea.String("22/22"), SourceCidrIp: tea.String("0.0.0.0/0")})
	if err != nil {
		t.Fatal(err)
	}
	if got := liveIDs(t, s, "sg-1"); !slices.Equal(got, []string{"sgr-c", "sgr-d"}) {
		t.Fatalf("live %v: the attribute form should have removed sgr-a and sgr-b", got)
	}
	// Permissions.N form; nothing matches any more.
	_, err = c.RevokeSecurityGroup(&ecs.RevokeSecurityGroupRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-1"),
		Permissions: []*ecs.RevokeSecurityGroupRequestPermissions{{IpProtocol: tea.String("TCP"), PortRange: tea.String("22/22"), SourceCidrIp: tea.String("0.0.0.0/0")}}})
	wantErr(t, err, 404, "InvalidSecurityGroupRule.RuleNotExist")
}

func TestAuthorize(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	p := perm("tcp", "8080/8081", "192.168.0.0/16")
	p.Description, p.Priority, p.Policy = tea.String("a b*c~d/é+&="), tea.String("3"), tea.String("drop")
	if err := authorize(c, "sg-web", p, perm("icmp", "-1/-1", "10.1.2.3"),
		&ecs.AuthorizeSecurityGroupRequestPermissions{IpProtocol: tea.String("udp"), PortRange: tea.String("53/53"), Ipv6SourceCidrIp: tea.String("2001:db8::/32")}); err != nil {
		t.Fatal(err)
	}
	g, _ := s.Group(region, "sg-web")
	if len(g.Permissions) != 7 {
		t.Fatalf("%d rules", len(g.Permissions))
	}
	nr := g.Permissions[4]
	if !regexp.MustCompile(`^sgr-[a-z0-9]{20}$`).MatchString(nr.SecurityGroupRuleId) || nr.CreateTime == "" || nr.Direction != "ingress" ||
		nr.Policy != "Drop" || nr.Priority != 3 || nr.IpProtocol != "TCP" || nr.PortRange != "8080/8081" || nr.NicType != "intranet" ||
		nr.Description != "a b*c~d/é+&=" {
		t.Errorf("new rule %+v", nr)
	}
	if got := describeAll(t, c, "sg-web", "ingress"); len(got) != 6 {
		t.Errorf("%d ingress rules", len(got))
	}
	// Legacy top-level form.
	_, err := c.AuthorizeSecurityGroup(&ecs.AuthorizeSecurityGroupRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web"),
		IpProtocol: tea.String("TCP"), PortRange: tea.String("9000/9000"), SourceCidrIp: tea.String("1.2.3.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Group(region, "sg-web"); g.Permissions[7].PortRange != "9000/9000" {
		t.Errorf("legacy rule %+v", g.Permissions[7])
	}
}

func TestAuthorizeDuplicate(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	// Same as sgr-ssh but for case, explicit defaults and the description.
	dup := perm("tcp", "22/22", "0.0.0.0/0")
	dup.Policy, dup.Priority, dup.NicType, dup.Description = tea.String("accept"), tea.String("1"), tea.String("intranet"), tea.String("other")
	wantErr(t, authorize(c, "sg-web", perm("tcp", "23/23", "0.0.0.0/0"), dup), 400, "InvalidPermission.Duplicate")
	if n := len(liveIDs(t, s, "sg-web")); n != 4 {
		t.Fatalf("%d rules after a failed authorize, want 4", n)
	}
	// Not duplicates: other priority, other policy, other NIC type.
	other := perm("tcp", "22/22", "0.0.0.0/0")
	other.Priority = tea.String("2")
	drop := perm("tcp", "22/22", "0.0.0.0/0")
	drop.Policy = tea.String("Drop")
	nic := perm("tcp", "22/22", "0.0.0.0/0")
	nic.NicType = tea.String("internet")
	if err := authorize(c, "sg-web", other, drop, nic); err != nil {
		t.Fatal(err)
	}

	s2, c2 := setup(t, cloudtest.Options{DuplicateIsSuccess: true})
	if err := authorize(c2, "sg-web", perm("TCP", "22/22", "0.0.0.0/0"), perm("tcp", "23/23", "0.0.0.0/0")); err != nil {
		t.Fatal(err)
	}
	if n := len(liveIDs(t, s2, "sg-web")); n != 5 {
		t.Fatalf("%d rules, want 5 (the duplicate is not created)", n)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	_, c := setup(t, cloudtest.Options{})
	for _, tc := range []struct {
		name string
		p    *ecs.AuthorizeSecurityGroupRequestPermissions
	}{
		{"protocol", perm("sctp", "1/2", "0.0.0.0/0")},
		{"port 0", perm("tcp", "0/22", "0.0.0.0/0")},
		{"port order", perm("tcp", "22/21", "0.0.0.0/0")},
		{"port high", perm("udp", "1/65536", "0.0.0.0/0")},
		{"tcp -1", perm("tcp", "-1/-1", "0.0.0.0/0")},
		{"icmp port", perm("icmp", "22/22", "0.0.0.0/0")},
		{"port format", perm("tcp", "22", "0.0.0.0/0")},
		{"cidr", perm("tcp", "22/22", "0.0.0.0/33")},
		{"v6 in v4", perm("tcp", "22/22", "::/0")},
		{"priority", func() *ecs.AuthorizeSecurityGroupRequestPermissions {
			p := perm("tcp", "22/22", "1.1.1.1/32")
			p.Priority = tea.String("101")
			return p
		}()},
		{"policy", func() *ecs.AuthorizeSecurityGroupRequestPermissions {
			p := perm("tcp", "22/22", "1.1.1.1/32")
			p.Policy = tea.String("allow")
			return p
		}()},
		{"v4 in v6", &ecs.AuthorizeSecurityGroupRequestPermissions{IpProtocol: tea.String("tcp"), PortRange: tea.String("22/22"), Ipv6SourceCidrIp: tea.String("0.0.0.0/0")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authorize(c, "sg-web", tc.p)
			wantErr(t, err, 400, "InvalidParameter")
			if !strings.Contains(err.Error(), "Permissions.1.") {
				t.Errorf("message does not name the field: %v", err)
			}
		})
	}
	wantErr(t, authorize(c, "sg-nope", perm("tcp", "22/22", "1.1.1.1/32")), 404, "InvalidSecurityGroupId.NotFound")
	wantErr(t, authorize(c, "sg-managed", perm("tcp", "23/23", "1.1.1.1/32")), 403, "InvalidOperation.ResourceManagedByCloudProduct")
}

func TestGetDiscoveredResource(t *testing.T) {
	s, _ := setup(t, cloudtest.Options{})
	cc := configClient(t, s)
	get := func(id string) *configsdk.GetDiscoveredResourceResponseBodyDiscoveredResourceDetail {
		t.Helper()
		resp, err := cc.GetDiscoveredResource(&configsdk.GetDiscoveredResourceRequest{
			Region: tea.String(region), ResourceId: tea.String(id), ResourceType: tea.String(cloudtest.SecurityGroupType)})
		if err != nil {
			t.Fatal(err)
		}
		if tea.StringValue(resp.Body.RequestId) == "" {
			t.Error("no RequestId")
		}
		return resp.Body.DiscoveredResourceDetail
	}
	d := get("sg-web")
	if tea.Int64Value(d.AccountId) != 1234567890123456 || tea.StringValue(d.Region) != region || tea.StringValue(d.ResourceId) != "sg-web" ||
		tea.StringValue(d.ResourceType) != cloudtest.SecurityGroupType || tea.StringValue(d.ResourceName) != "web" ||
		tea.Int32Value(d.ResourceDeleted) != 1 || tea.Int64Value(d.ResourceCreationTime) <= 0 {
		t.Errorf("detail %v", d)
	}
	var tags map[string][]string
	if err := json.Unmarshal([]byte(tea.StringValue(d.Tags)), &tags); err != nil || !slices.Equal(tags["env"], []string{"prod"}) {
		t.Errorf("tags %q %v", tea.StringValue(d.Tags), err)
	}
	var nested struct {
		SecurityGroupId, VpcId, SecurityGroupType string
		ServiceManaged                            bool
		Tags                                      struct {
			Tag []struct{ TagKey, TagValue string }
		}
		Permissions struct {
			Permission []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(tea.StringValue(d.Configuration)), &nested); err != nil {
		t.Fatal(err)
	}
	ps := nested.Permissions.Permission
	if nested.SecurityGroupId != "sg-web" || nested.VpcId != "vpc-1" || len(nested.Tags.Tag) != 2 || len(ps) != 4 ||
		ps[0]["SecurityGroupRuleId"] != "sgr-ssh" || ps[0]["Priority"] != float64(1) || ps[2]["Priority"] != float64(5) {
		t.Errorf("nested configuration %s", tea.StringValue(d.Configuration))
	}

	var flat struct{ Permissions []cloudtest.Rule }
	if err := json.Unmarshal([]byte(tea.StringValue(get("sg-flat").Configuration)), &flat); err != nil || len(flat.Permissions) != 1 || flat.Permissions[0].Priority != 7 {
		t.Errorf("flat configuration: %v %+v", err, flat)
	}
	var managed struct{ ServiceManaged bool }
	json.Unmarshal([]byte(tea.StringValue(get("sg-managed").Configuration)), &managed)
	if !managed.ServiceManaged {
		t.Error("ServiceManaged not in the configuration")
	}
	if d := get("sg-deleted"); tea.Int32Value(d.ResourceDeleted) != 0 {
		t.Errorf("deleted group: ResourceDeleted %d", tea.Int32Value(d.ResourceDeleted))
	}

	for _, tc := range []struct{ region, id, typ string }{
		{region, "sg-nope", cloudtest.SecurityGroupType},
		{"cn-beijing", "sg-web", cloudtest.SecurityGroupType},
		{region, "sg-web", "ACS::ECS::Instance"},
	} {
		_, err := cc.GetDiscoveredResource(&configsdk.GetDiscoveredResourceRequest{Region: tea.String(tc.region), ResourceId: tea.String(tc.id), ResourceType: tea.String(tc.typ)})
		wantErr(t, err, 404, "ResourceNotExist")
	}
	if c := s.Calls(); c[len(c)-1].Params.Get("ResourceType") != "ACS::ECS::Instance" {
		t.Errorf("params %v", c[len(c)-1].Params)
	}
}

func snapshotIDs(t *testing.T, cc *configsdk.Client, id string) []string {
	t.Helper()
	resp, err := cc.GetDiscoveredResource(&configsdk.GetDiscoveredResourceRequest{
		Region: tea.String(region), ResourceId: tea.String(id), ResourceType: tea.String(cloudtest.SecurityGroupType)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Permissions struct{ Permission []cloudtest.Rule }
	}
	if err := json.Unmarshal([]byte(tea.StringValue(resp.Body.DiscoveredResourceDetail.Configuration)), &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range doc.Permissions.Permission {
		out = append(out, r.SecurityGroupRuleId)
	}
	return out
}

func TestSnapshotVersusLive(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	cc := configClient(t, s)
	all := []string{"sgr-ssh", "sgr-rdp", "sgr-v6", "sgr-out"}
	if err := s.SetLiveRules(region, "sg-web", []cloudtest.Rule{{SecurityGroupRuleId: "sgr-new", IpProtocol: "TCP", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0"}}); err != nil {
		t.Fatal(err)
	}
	if got := snapshotIDs(t, cc, "sg-web"); !slices.Equal(got, all) {
		t.Errorf("snapshot %v, want the load-time rules", got)
	}
	if got := ids(describeAll(t, c, "sg-web", "")); !slices.Equal(got, []string{"sgr-new"}) {
		t.Errorf("live %v", got)
	}
	// API changes do not touch the snapshot either.
	if err := revokeIDs(c, "sg-web", "sgr-new"); err != nil {
		t.Fatal(err)
	}
	if got := snapshotIDs(t, cc, "sg-web"); !slices.Equal(got, all) {
		t.Errorf("snapshot %v after revoke", got)
	}
	if err := s.Resnapshot(region, "sg-web"); err != nil {
		t.Fatal(err)
	}
	if got := snapshotIDs(t, cc, "sg-web"); len(got) != 0 {
		t.Errorf("snapshot %v after Resnapshot, want empty", got)
	}
	// DeleteGroup: ECS says NotFound, Config still serves the snapshot as existing.
	if err := s.DeleteGroup(region, "sg-flat"); err != nil {
		t.Fatal(err)
	}
	_, err := c.DescribeSecurityGroupAttribute(&ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-flat")})
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	resp, err := cc.GetDiscoveredResource(&configsdk.GetDiscoveredResourceRequest{
		Region: tea.String(region), ResourceId: tea.String("sg-flat"), ResourceType: tea.String(cloudtest.SecurityGroupType)})
	if err != nil || tea.Int32Value(resp.Body.DiscoveredResourceDetail.ResourceDeleted) != 1 {
		t.Errorf("config after DeleteGroup: %v %v", resp, err)
	}
	if _, ok := s.Group(region, "sg-flat"); ok {
		t.Error("Group reports a deleted group")
	}
	if s.SetLiveRules(region, "sg-flat", nil) == nil || s.Resnapshot(region, "nope") == nil {
		t.Error("changing a missing group succeeded")
	}
}

func TestFixtureLoading(t *testing.T) {
	const fx = `{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","Permissions":[
		{"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Priority":"1"},
		{"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Priority":1},
		{"IpProtocol":"TCP","PortRange":"23/23","SourceCidrIp":"0.0.0.0/0"},
		{"IpProtocol":"TCP","PortRange":"24/24","SourceCidrIp":"0.0.0.0/0","Priority":"42","Policy":"Drop","Direction":"egress","NicType":"internet"}],
		"SnapshotPermissions":[{"IpProtocol":"TCP","PortRange":"23/23","SourceCidrIp":"0.0.0.0/0"},
		{"IpProtocol":"TCP","PortRange":"3306/3306","SourceCidrIp":"0.0.0.0/0"}]}]}`
	var first []cloudtest.Rule
	for range 2 { // generated IDs are deterministic
		s := newServer(t, cloudtest.Options{})
		load(t, s, fx)
		g, ok := s.Group("r1", "sg-1")
		if !ok {
			t.Fatal("group not loaded")
		}
		ps := g.Permissions
		for _, r := range ps {
			if !regexp.MustCompile(`^sgr-[a-z0-9]{20}$`).MatchString(r.SecurityGroupRuleId) {
				t.Errorf("rule ID %q", r.SecurityGroupRuleId)
			}
		}
		if ps[0].Priority != 1 || ps[1].Priority != 1 || ps[2].Priority != 1 || ps[3].Priority != 42 {
			t.Errorf("priorities %+v", ps)
		}
		if ps[0].Direction != "ingress" || ps[0].Policy != "Accept" || ps[0].NicType != "intranet" ||
			ps[3].Direction != "egress" || ps[3].Policy != "Drop" || ps[3].NicType != "internet" {
			t.Errorf("defaults %+v", ps)
		}
		if ps[0].SecurityGroupRuleId == ps[1].SecurityGroupRuleId {
			t.Error("identical rules share an ID")
		}
		snap := *g.SnapshotPermissions
		if len(snap) != 2 || snap[0].SecurityGroupRuleId != ps[2].SecurityGroupRuleId || snap[1].SecurityGroupRuleId == ps[2].SecurityGroupRuleId {
			t.Errorf("snapshot %+v: the 23/23 rule should keep the live ID", snap)
		}
		if first == nil {
			first = ps
		} else if !slices.Equal(first, ps) {
			t.Errorf("IDs differ between loads: %v vs %v", first, ps)
		}
	}

	s := newServer(t, cloudtest.Options{})
	for _, bad := range []string{
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","Permissions":[{"Priority":"x"}]}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","Permissions":[{"Priority":101}]}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","Permision":[]}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1"}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","ConfigShape":"deep"}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","AccountId":"acme"}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1","Permissions":[{"SecurityGroupRuleId":"sgr-1"},{"SecurityGroupRuleId":"sgr-1"}]}]}`,
		`{"groups":[{"SecurityGroupId":"sg-1","RegionId":"r1"},{"SecurityGroupId":"sg-1","RegionId":"r1"}]}`,
	} {
		if err := s.Load(strings.NewReader(bad)); err == nil {
			t.Errorf("Load(%s) succeeded", bad)
		}
	}
	if _, ok := s.Group("r1", "sg-1"); ok {
		t.Error("a failed Load added a group")
	}
	if err := s.LoadFile("testdata/does-not-exist.json"); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
	if err := s.AddGroup(cloudtest.Group{SecurityGroupId: "sg-1", RegionId: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddGroup(cloudtest.Group{SecurityGroupId: "sg-1", RegionId: "r1"}); err == nil {
		t.Error("adding a group twice succeeded")
	}
}

func TestSignature(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web")}
	if _, err := c.DescribeSecurityGroupAttribute(req); err != nil {
		t.Fatal(err)
	}
	_, err := ecsClient(t, s, creds{"test-ak", "wrong", ""}).DescribeSecurityGroupAttribute(req)
	wantErr(t, err, 403, "SignatureDoesNotMatch")
	_, err = ecsClient(t, s, creds{"other-ak", "test-secret", ""}).DescribeSecurityGroupAttribute(req)
	wantErr(t, err, 404, "InvalidAccessKeyId.NotFound")
	_, err = ecsClient(t, s, creds{"test-ak", "test-secret", "some-token"}).DescribeSecurityGroupAttribute(req)
	wantErr(t, err, 403, "InvalidSecurityToken.Mismatch")

	q := url.Values{"RegionId": {region}, "SecurityGroupId": {"sg-web"}, "Odd": {"a b*c~d+é"}}
	if st, m := rawCall(t, s, defaultCreds, "POST", "DescribeSecurityGroupAttribute", cloudtest.ECSVersion, q, "", nil); st != 200 {
		t.Fatalf("raw signed call: %d %v", st, m)
	}
	for name, tamper := range map[string]func(*http.Request){
		"query":   func(r *http.Request) { r.URL.RawQuery += "&Extra=1" },
		"action":  func(r *http.Request) { r.Header.Set("x-acs-action", "RevokeSecurityGroup") },
		"date":    func(r *http.Request) { r.Header.Set("x-acs-date", "2020-01-01T00:00:00Z") },
		"payload": func(r *http.Request) { r.Header.Set("x-acs-content-sha256", strings.Repeat("0", 64)) },
	} {
		if st, m := rawCall(t, s, defaultCreds, "POST", "DescribeSecurityGroupAttribute", cloudtest.ECSVersion, q, "", tamper); st != 403 || m["Code"] != "SignatureDoesNotMatch" {
			t.Errorf("tampered %s: %d %v", name, st, m)
		}
	}
	st, m := rawCall(t, s, defaultCreds, "POST", "DescribeSecurityGroupAttribute", cloudtest.ECSVersion, q, "", func(r *http.Request) { r.Header.Del("Authorization") })
	if st != 400 || m["Code"] != "IncompleteSignature" {
		t.Errorf("unsigned: %d %v", st, m)
	}
	st, m = rawCall(t, s, defaultCreds, "POST", "DescribeSecurityGroupAttribute", cloudtest.ECSVersion, q, "", func(r *http.Request) { r.Header.Set("x-acs-extra", "1") })
	if st != 400 || m["Code"] != "IncompleteSignature" {
		t.Errorf("unsigned x-acs header: %d %v", st, m)
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if _, ok := m[k]; !ok {
			t.Errorf("error body lacks %s: %v", k, m)
		}
	}
}

func TestFormBody(t *testing.T) {
	s, _ := setup(t, cloudtest.Options{})
	st, m := rawCall(t, s, defaultCreds, "POST", "RevokeSecurityGroup", cloudtest.ECSVersion,
		url.Values{"RegionId": {region}}, url.Values{"SecurityGroupId": {"sg-web"}, "SecurityGroupRuleId.1": {"sgr-ssh"}}.Encode(), nil)
	if st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	if got := liveIDs(t, s, "sg-web"); slices.Contains(got, "sgr-ssh") {
		t.Errorf("live %v", got)
	}
	if p := s.Calls()[0].Params; p.Get("SecurityGroupRuleId.1") != "sgr-ssh" || p.Get("RegionId") != region {
		t.Errorf("params %v", p)
	}
}

func TestSecurityToken(t *testing.T) {
	s, _ := setup(t, cloudtest.Options{AccessKeyID: "STS.ak", AccessKeySecret: "sts-secret", SecurityToken: "tok"})
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web")}
	if _, err := ecsClient(t, s, creds{"STS.ak", "sts-secret", "tok"}).DescribeSecurityGroupAttribute(req); err != nil {
		t.Fatal(err)
	}
	_, err := ecsClient(t, s, creds{"STS.ak", "sts-secret", "other"}).DescribeSecurityGroupAttribute(req)
	wantErr(t, err, 403, "InvalidSecurityToken.Mismatch")
	_, err = ecsClient(t, s, creds{"STS.ak", "sts-secret", ""}).DescribeSecurityGroupAttribute(req)
	wantErr(t, err, 403, "InvalidSecurityToken.Mismatch")
	_, err = ecsClient(t, s, creds{"test-ak", "test-secret", "tok"}).DescribeSecurityGroupAttribute(req)
	wantErr(t, err, 404, "InvalidAccessKeyId.NotFound")
}

func TestUnknownAction(t *testing.T) {
	s := newServer(t, cloudtest.Options{})
	cl, err := openapi.NewClient(sdkConfig(s, defaultCreds))
	if err != nil {
		t.Fatal(err)
	}
	call := func(action, version string) error {
		_, err := cl.CallApi(&openapi.Params{Action: tea.String(action), Version: tea.String(version), Protocol: tea.String("HTTPS"),
			Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String("AK"), Style: tea.String("RPC"),
			ReqBodyType: tea.String("formData"), BodyType: tea.String("json")}, &openapi.OpenApiRequest{}, &util.RuntimeOptions{})
		return err
	}
	wantErr(t, call("DescribeInstances", cloudtest.ECSVersion), 400, "InvalidAction.NotFound")
	wantErr(t, call("DescribeSecurityGroupAttribute", "2099-01-01"), 400, "InvalidAction.NotFound")
	wantErr(t, call("GetDiscoveredResource", cloudtest.ECSVersion), 400, "InvalidAction.NotFound")
}

func TestFailNext(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	s.FailNext("RevokeSecurityGroup", 2, 503, "ServiceUnavailable")
	s.FailNext("", 1, 0, "")
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web")}
	_, err := c.DescribeSecurityGroupAttribute(req) // consumes the "" fault
	wantErr(t, err, 500, "InternalError")
	if _, err := c.DescribeSecurityGroupAttribute(req); err != nil {
		t.Fatal(err)
	}
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh"), 503, "ServiceUnavailable")
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh"), 503, "ServiceUnavailable")
	if !slices.Contains(liveIDs(t, s, "sg-web"), "sgr-ssh") {
		t.Fatal("a failed call changed the state")
	}
	if err := revokeIDs(c, "sg-web", "sgr-ssh"); err != nil {
		t.Fatal(err)
	}
	if s.CallCount("RevokeSecurityGroup") != 3 || s.CallCount("") != 5 || s.CallCount("DescribeSecurityGroupAttribute") != 2 {
		t.Errorf("counts: revoke %d, all %d", s.CallCount("RevokeSecurityGroup"), s.CallCount(""))
	}
	calls := s.Calls()
	if calls[0].Status != 500 || calls[0].Code != "InternalError" || calls[4].Status != 200 || calls[4].Code != "" || calls[4].At.IsZero() {
		t.Errorf("calls %+v", calls)
	}
	s.FailNext("RevokeSecurityGroup", 5, 503, "ServiceUnavailable")
	s.FailNext("RevokeSecurityGroup", 0, 0, "") // cancels
	if err := revokeIDs(c, "sg-web", "sgr-rdp"); err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()
	if s.CallCount("") != 0 || len(s.Calls()) != 0 {
		t.Error("ResetCalls did not reset")
	}
}

func TestQuota(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	s.SetQuota(5)
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web")}
	ok, throttled := 0, 0
	for range 12 {
		_, err := c.DescribeSecurityGroupAttribute(req)
		if err == nil {
			ok++
			continue
		}
		wantErr(t, err, 400, "Throttling.User")
		throttled++
	}
	if ok < 5 || throttled == 0 { // burst 5, plus what refilled meanwhile
		t.Errorf("ok %d, throttled %d", ok, throttled)
	}
	time.Sleep(300 * time.Millisecond) // refills about 1.5 tokens
	if _, err := c.DescribeSecurityGroupAttribute(req); err != nil {
		t.Errorf("after refill: %v", err)
	}
	s.SetQuota(0)
	for range 20 {
		if _, err := c.DescribeSecurityGroupAttribute(req); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBeforeHook(t *testing.T) {
	s, c := setup(t, cloudtest.Options{})
	var seen url.Values
	// The rule disappears between the product's read and its revoke.
	s.Before("RevokeSecurityGroup", func(p url.Values) {
		seen = p
		if err := s.SetLiveRules(region, "sg-web", []cloudtest.Rule{{SecurityGroupRuleId: "sgr-rdp", IpProtocol: "TCP", PortRange: "3389/3389", SourceCidrIp: "0.0.0.0/0"}}); err != nil {
			t.Error(err)
		}
	})
	wantErr(t, revokeIDs(c, "sg-web", "sgr-ssh", "sgr-rdp"), 400, "InvalidParam.SecurityGroupRuleId")
	if seen.Get("SecurityGroupRuleId.2") != "sgr-rdp" {
		t.Errorf("hook params %v", seen)
	}
	if got := liveIDs(t, s, "sg-web"); !slices.Equal(got, []string{"sgr-rdp"}) {
		t.Errorf("live %v", got)
	}
	s.Before("RevokeSecurityGroup", nil)
	var n atomic.Int32
	s.Before("", func(url.Values) { n.Add(1) })
	if err := revokeIDs(c, "sg-web", "sgr-rdp"); err != nil {
		t.Fatal(err)
	}
	// Not run for calls that fail earlier.
	s.FailNext("", 1, 503, "ServiceUnavailable")
	revokeIDs(c, "sg-web", "sgr-rdp")
	if n.Load() != 1 {
		t.Errorf("hook ran %d times, want 1", n.Load())
	}
}

func TestLatencyAndInFlight(t *testing.T) {
	s := newServer(t, cloudtest.Options{Latency: 50 * time.Millisecond})
	load(t, s, fixture)
	c := ecsClient(t, s, defaultCreds)
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-web")}
	start := time.Now()
	if _, err := c.DescribeSecurityGroupAttribute(req); err != nil {
		t.Fatal(err)
	}
	s.FailNext("", 1, 503, "ServiceUnavailable")
	c.DescribeSecurityGroupAttribute(req)
	ecsClient(t, s, creds{"test-ak", "bad", ""}).DescribeSecurityGroupAttribute(req)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("3 calls took %v, want >= 150ms (latency applies to failures too)", d)
	}

	s.SetLatency(100 * time.Millisecond)
	s.ResetCalls()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ecsClient(t, s, defaultCreds) // SDK clients are not safe for concurrent use
			if _, err := c.DescribeSecurityGroupAttribute(req); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := s.MaxInFlight(); m < 2 || m > 8 {
		t.Errorf("MaxInFlight %d", m)
	}
	s.ResetCalls()
	if s.MaxInFlight() != 0 {
		t.Errorf("MaxInFlight %d after reset", s.MaxInFlight())
	}
}

// Many clients changing and reading one group at once (run with -race).
func TestConcurrency(t *testing.T) {
	s := newServer(t, cloudtest.Options{})
	if err := s.AddGroup(cloudtest.Group{SecurityGroupId: "sg-c", RegionId: region}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ecsClient(t, s, defaultCreds)
			cc := configClient(t, s)
			for i := range 10 {
				port := fmt.Sprintf("%d/%d", 1000+w*100+i, 1000+w*100+i)
				if err := authorize(c, "sg-c", perm("tcp", port, "0.0.0.0/0")); err != nil {
					t.Error(err)
					return
				}
				for _, r := range describeAll(t, c, "sg-c", "ingress") {
					if tea.StringValue(r.PortRange) == port {
						if err := revokeIDs(c, "sg-c", tea.StringValue(r.SecurityGroupRuleId)); err != nil {
							t.Error(err)
						}
					}
				}
				if _, err := cc.GetDiscoveredResource(&configsdk.GetDiscoveredResourceRequest{Region: tea.String(region),
					ResourceId: tea.String("sg-c"), ResourceType: tea.String(cloudtest.SecurityGroupType)}); err != nil {
					t.Error(err)
				}
				_ = s.Calls()
				_, _ = s.Group(region, "sg-c")
				if i == 5 {
					_ = s.Resnapshot(region, "sg-c")
				}
			}
		}()
	}
	wg.Wait()
	if got := liveIDs(t, s, "sg-c"); len(got) != 0 {
		t.Errorf("%d rules left", len(got))
	}
	if n := s.CallCount("AuthorizeSecurityGroup"); n != 80 {
		t.Errorf("%d authorize calls", n)
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	s, c := setup(t, cloudtest.Options{Log: &buf})
	revokeIDs(c, "sg-web", "sgr-ssh")
	revokeIDs(c, "sg-web", "sgr-ssh")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "RevokeSecurityGroup") || !strings.Contains(lines[0], "status=200") ||
		!strings.Contains(lines[1], "InvalidParam.SecurityGroupRuleId") || !strings.Contains(lines[0], "sg-web") {
		t.Errorf("log:\n%s", buf.String())
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasPrefix(s.Endpoint(), "127.0.0.1:") {
		t.Errorf("URL %s Endpoint %s", s.URL(), s.Endpoint())
	}
}

func BenchmarkDescribe1000(b *testing.B) {
	s := newServer(b, cloudtest.Options{})
	rules := make([]cloudtest.Rule, 1000)
	for i := range rules {
		rules[i] = cloudtest.Rule{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", i+1, i+1), SourceCidrIp: "0.0.0.0/0", Description: "rule"}
	}
	if err := s.AddGroup(cloudtest.Group{SecurityGroupId: "sg-b", RegionId: region, Permissions: rules}); err != nil {
		b.Fatal(err)
	}
	c := ecsClient(b, s, defaultCreds)
	req := &ecs.DescribeSecurityGroupAttributeRequest{RegionId: tea.String(region), SecurityGroupId: tea.String("sg-b"), MaxResults: tea.Int32(1000)}
	b.ResetTimer()
	for range b.N {
		resp, err := c.DescribeSecurityGroupAttribute(req)
		if err != nil || len(resp.Body.Permissions.Permission) != 1000 {
			b.Fatal(err)
		}
	}
}
