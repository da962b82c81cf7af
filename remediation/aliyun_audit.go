package remediation

import (
	"context"
	"fmt"
	"strconv"

	"github.com/alibabacloud-go/tea/tea"
)

// The audit's listing calls (contract section 10), on the same one-decode
// path as DescribeSecurityGroupAttribute: CallApi with the body handed back
// unread, decoded once straight into the answer's structs.

var (
	describeRegionsParams = rpc("DescribeRegions", "2014-05-26", "POST")
	describeGroupsParams  = rpc("DescribeSecurityGroups", "2014-05-26", "POST")
)

// groupsPerPage is DescribeSecurityGroups' MaxResults: the most it allows.
const groupsPerPage = 100

// DescribeRegions implements AuditAPI: the ECS regions of the account. It is
// asked at the ECS endpoint of the Config region (any regional endpoint
// answers it), or at ECS_ENDPOINT.
func (c *Cloud) DescribeRegions(ctx context.Context) ([]string, error) {
	region := c.configRegion
	if region == "" {
		region = "cn-shanghai"
	}
	cl, done, err := c.ecsClient(region)
	if err != nil {
		return nil, err
	}
	defer done()
	var body struct {
		Regions struct {
			Region []struct {
				RegionID string `json:"RegionId"`
			} `json:"Region"`
		} `json:"Regions"`
	}
	q := map[string]*string{"RegionId": tea.String(region)}
	if err := c.callJSON(ctx, &cl.Client, region, describeRegionsParams, q, "", &body); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(body.Regions.Region))
	for _, r := range body.Regions.Region {
		if r.RegionID != "" {
			out = append(out, r.RegionID)
		}
	}
	return out, nil
}

// DescribeSecurityGroups implements AuditAPI: one page (MaxResults 100) of
// the region's security groups, from nextToken ("" = the first page).
func (c *Cloud) DescribeSecurityGroups(ctx context.Context, region, nextToken string) (GroupPage, error) {
	cl, done, err := c.ecsClient(region)
	if err != nil {
		return GroupPage{}, err
	}
	defer done()
	q := map[string]*string{"RegionId": tea.String(region), "MaxResults": tea.String(strconv.Itoa(groupsPerPage))}
	if nextToken != "" {
		q["NextToken"] = tea.String(nextToken)
	}
	var body struct {
		NextToken      string `json:"NextToken"`
		SecurityGroups struct {
			SecurityGroup []struct {
				SecurityGroupID   string `json:"SecurityGroupId"`
				SecurityGroupName string `json:"SecurityGroupName"`
				VpcID             string `json:"VpcId"`
				ServiceManaged    bool   `json:"ServiceManaged"`
				RuleCount         int    `json:"RuleCount"`
				Tags              struct {
					Tag []struct {
						TagKey   string `json:"TagKey"`
						TagValue string `json:"TagValue"`
					} `json:"Tag"`
				} `json:"Tags"`
			} `json:"SecurityGroup"`
		} `json:"SecurityGroups"`
	}
	if err := c.callJSON(ctx, &cl.Client, region, describeGroupsParams, q, "", &body); err != nil {
		return GroupPage{}, err
	}
	page := GroupPage{NextToken: body.NextToken, Groups: make([]GroupSummary, len(body.SecurityGroups.SecurityGroup))}
	for i, g := range body.SecurityGroups.SecurityGroup {
		if g.SecurityGroupID == "" {
			return GroupPage{}, fmt.Errorf("DescribeSecurityGroups %s: group %d of the page has no SecurityGroupId", region, i)
		}
		tags := make(map[string][]string, len(g.Tags.Tag))
		for _, t := range g.Tags.Tag {
			tags[t.TagKey] = append(tags[t.TagKey], t.TagValue)
		}
		page.Groups[i] = GroupSummary{ID: g.SecurityGroupID, Name: g.SecurityGroupName, VpcID: g.VpcID,
			ServiceManaged: g.ServiceManaged, RuleCount: g.RuleCount, Tags: tags}
	}
	return page, nil
}
