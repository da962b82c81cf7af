package cloudtest_test

import (
	"fmt"
	"slices"
	"testing"

	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

var fourRegions = []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1"}

// bigFixture: 2000 groups over 4 regions in the default account (every
// tenth managed, every seventh tagged env=prod, rule count i%5+1), plus 40
// groups of a member account in cn-hangzhou.
func bigFixture(tb testing.TB) *cloudtest.Server {
	tb.Helper()
	s := newServer(tb, cloudtest.Options{})
	gs := cloudtest.GenerateGroups(2000, fourRegions, func(i int, g *cloudtest.Group) {
		g.ServiceManaged = i%10 == 0
		if i%7 == 0 {
			g.Tags = map[string]string{"env": "prod"}
		}
		for j := range i % 5 {
			g.Permissions = append(g.Permissions, cloudtest.Rule{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", 1000+j, 1000+j), SourceCidrIp: "0.0.0.0/0"})
		}
	})
	if err := s.AddGroups(gs...); err != nil {
		tb.Fatal(err)
	}
	others := cloudtest.GenerateGroups(40, nil, func(i int, g *cloudtest.Group) {
		g.SecurityGroupId = fmt.Sprintf("sg-member%03d", i)
		g.AccountId = member
	})
	if err := s.AddGroups(others...); err != nil {
		tb.Fatal(err)
	}
	return s
}

// listAll pages through DescribeSecurityGroups with MaxResults/NextToken.
func listAll(tb testing.TB, c *ecs.Client, req *ecs.DescribeSecurityGroupsRequest) (items []*ecs.DescribeSecurityGroupsResponseBodySecurityGroupsSecurityGroup, pages int) {
	tb.Helper()
	for {
		resp, err := c.DescribeSecurityGroups(req)
		if err != nil {
			tb.Fatal(err)
		}
		pages++
		b := resp.Body
		if b.TotalCount != nil || b.PageNumber != nil || b.PageSize != nil {
			tb.Errorf("token paging answered legacy fields %v %v %v", b.TotalCount, b.PageNumber, b.PageSize)
		}
		items = append(items, b.SecurityGroups.SecurityGroup...)
		if tea.StringValue(b.NextToken) == "" {
			return items, pages
		}
		req.NextToken = b.NextToken
		if pages > 1000 {
			tb.Fatal("paging does not end")
		}
	}
}

func TestDescribeSecurityGroupsPaging(t *testing.T) {
	s := bigFixture(t)
	c := ecsClient(t, s, defaultCreds)
	total := 0
	for ri, r := range fourRegions {
		items, pages := listAll(t, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String(r), MaxResults: tea.Int32(100)})
		if len(items) != 500 || pages != 5 {
			t.Fatalf("%s: %d groups in %d pages, want 500 in 5", r, len(items), pages)
		}
		total += len(items)
		for k, it := range items {
			i := ri + 4*k // GenerateGroups is round-robin; IDs sort by i
			id := fmt.Sprintf("sg-gen%06d", i)
			if got := tea.StringValue(it.SecurityGroupId); got != id {
				t.Fatalf("%s item %d: %s, want %s", r, k, got, id)
			}
			if tea.BoolValue(it.ServiceManaged) != (i%10 == 0) || tea.Int32Value(it.RuleCount) != int32(1+i%5) ||
				tea.StringValue(it.VpcId) != "vpc-gen" || tea.StringValue(it.SecurityGroupName) != fmt.Sprintf("gen-%d", i) {
				t.Fatalf("%s: %v", id, it)
			}
			if tagged := i%7 == 0; tagged != (it.Tags != nil && len(it.Tags.Tag) == 1) ||
				(tagged && (tea.StringValue(it.Tags.Tag[0].TagKey) != "env" || tea.StringValue(it.Tags.Tag[0].TagValue) != "prod")) {
				t.Fatalf("%s tags %v", id, it.Tags)
			}
		}
	}
	if total != 2000 {
		t.Errorf("%d groups", total)
	}
	// Default page: 10, and a NextToken to go on.
	resp, err := c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-shanghai"), MaxResults: tea.Int32(1)})
	if err != nil || len(resp.Body.SecurityGroups.SecurityGroup) != 1 || tea.StringValue(resp.Body.NextToken) == "" {
		t.Fatalf("MaxResults 1: %v %v", resp, err)
	}
	resp, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-shanghai"), NextToken: resp.Body.NextToken})
	if err != nil || len(resp.Body.SecurityGroups.SecurityGroup) != 10 || tea.StringValue(resp.Body.SecurityGroups.SecurityGroup[0].SecurityGroupId) != "sg-gen000005" {
		t.Fatalf("default MaxResults: %v %v", resp, err)
	}

	// Filters; a token is only good with the filters it came from.
	items, _ := listAll(t, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(7),
		ServiceManaged: tea.Bool(true)})
	if len(items) != 100 { // cn-hangzhou is i%4==0; managed i%10==0: i%20==0
		t.Errorf("managed in cn-hangzhou: %d", len(items))
	}
	items, _ = listAll(t, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(100),
		Tag: []*ecs.DescribeSecurityGroupsRequestTag{{Key: tea.String("env"), Value: tea.String("prod")}}})
	if len(items) != 72 { // i%4==0 and i%7==0: i%28==0, i < 2000
		t.Errorf("env=prod in cn-hangzhou: %d", len(items))
	}
	items, _ = listAll(t, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(100),
		ServiceManaged: tea.Bool(false), VpcId: tea.String("vpc-gen")})
	if len(items) != 400 {
		t.Errorf("unmanaged: %d", len(items))
	}
	items, _ = listAll(t, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(100), VpcId: tea.String("vpc-other")})
	if len(items) != 0 {
		t.Errorf("vpc-other: %d", len(items))
	}
	resp, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(10),
		NextToken: resp.Body.NextToken, VpcId: tea.String("vpc-gen")})
	wantErr(t, err, 400, "InvalidNextToken.Malformed")
	_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-shanghai"), NextToken: resp.Body.NextToken})
	wantErr(t, err, 400, "InvalidNextToken.Malformed")
	_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), NextToken: tea.String("garbage")})
	wantErr(t, err, 400, "InvalidNextToken.Malformed")
	for _, m := range []int32{0, 101} {
		_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(m)})
		wantErr(t, err, 400, "InvalidParameter")
	}
	_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(10), PageNumber: tea.Int32(2)})
	wantErr(t, err, 400, "InvalidParameter")
	_, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"),
		Tag: []*ecs.DescribeSecurityGroupsRequestTag{{Value: tea.String("prod")}}})
	wantErr(t, err, 400, "MissingParameter")

	// Legacy paging still answers TotalCount.
	resp, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-beijing"), PageNumber: tea.Int32(3), PageSize: tea.Int32(50)})
	if err != nil || tea.Int32Value(resp.Body.TotalCount) != 500 || len(resp.Body.SecurityGroups.SecurityGroup) != 50 ||
		tea.StringValue(resp.Body.SecurityGroups.SecurityGroup[0].SecurityGroupId) != fmt.Sprintf("sg-gen%06d", 2+4*100) {
		t.Fatalf("legacy page 3: %v %v", resp, err)
	}

	// Per account: the member sees only its 40.
	if err := s.AddKey(member, "member-ak", "member-secret", ""); err != nil {
		t.Fatal(err)
	}
	items, _ = listAll(t, ecsClient(t, s, creds{"member-ak", "member-secret", ""}), &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(100)})
	if len(items) != 40 || tea.StringValue(items[0].SecurityGroupId) != "sg-member000" {
		t.Errorf("member listing: %d", len(items))
	}
	resp, err = c.DescribeSecurityGroups(&ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), SecurityGroupIds: tea.String(`["sg-member001","sg-gen000000"]`)})
	if err != nil || len(resp.Body.SecurityGroups.SecurityGroup) != 1 || tea.StringValue(resp.Body.SecurityGroups.SecurityGroup[0].SecurityGroupId) != "sg-gen000000" {
		t.Errorf("ids across accounts: %v %v", resp, err)
	}

	// Groups added later, out of order, and deleted ones.
	if err := s.AddGroup(cloudtest.Group{SecurityGroupId: "sg-aaa", RegionId: "cn-hangzhou"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup("cn-hangzhou", "sg-gen000004"); err != nil {
		t.Fatal(err)
	}
	items, _ = listAll(t, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String("cn-hangzhou"), MaxResults: tea.Int32(100)})
	if len(items) != 500 || tea.StringValue(items[0].SecurityGroupId) != "sg-aaa" || tea.StringValue(items[2].SecurityGroupId) != "sg-gen000008" {
		t.Errorf("after add and delete: %d, %s %s", len(items), tea.StringValue(items[0].SecurityGroupId), tea.StringValue(items[2].SecurityGroupId))
	}
}

func TestDescribeRegions(t *testing.T) {
	s := bigFixture(t)
	c := ecsClient(t, s, defaultCreds)
	regions := func() []string {
		t.Helper()
		resp, err := c.DescribeRegions(&ecs.DescribeRegionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range resp.Body.Regions.Region {
			out = append(out, tea.StringValue(r.RegionId))
			if tea.StringValue(r.RegionEndpoint) != "ecs."+tea.StringValue(r.RegionId)+".aliyuncs.com" ||
				tea.StringValue(r.Status) != "available" || tea.StringValue(r.LocalName) == "" {
				t.Errorf("region %v", r)
			}
		}
		return out
	}
	want := slices.Sorted(slices.Values(fourRegions))
	if got := regions(); !slices.Equal(got, want) {
		t.Errorf("regions %v, want %v", got, want)
	}
	s.SetRegions("us-west-1", "cn-hangzhou")
	want = append(want, "us-west-1")
	if got := regions(); !slices.Equal(got, want) {
		t.Errorf("with SetRegions: %v, want %v", got, want)
	}
}

func BenchmarkDescribeSecurityGroups2000(b *testing.B) {
	s := bigFixture(b)
	c := ecsClient(b, s, defaultCreds)
	b.ResetTimer()
	for b.Loop() {
		for _, r := range fourRegions {
			if items, _ := listAll(b, c, &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String(r), MaxResults: tea.Int32(100)}); len(items) != 500 {
				b.Fatal(len(items))
			}
		}
	}
}
