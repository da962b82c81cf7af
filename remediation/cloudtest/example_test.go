package cloudtest_test

import (
	"fmt"
	"strings"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v4/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// Start the emulator, load a fixture and point a real ECS client at it.
func Example() {
	s, err := cloudtest.New(cloudtest.Options{}) // accepts test-ak / test-secret
	if err != nil {
		panic(err)
	}
	defer s.Close()

	err = s.Load(strings.NewReader(`{"groups": [{
		"SecurityGroupId": "sg-1", "RegionId": "cn-hangzhou", "VpcId": "vpc-1",
		"Permissions": [
			{"SecurityGroupRuleId": "sgr-ssh", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Priority": 1},
			{"IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0", "Priority": "2"}
		]}]}`))
	if err != nil {
		panic(err)
	}

	client, err := ecs.NewClient(&openapi.Config{
		AccessKeyId:     tea.String("test-ak"),
		AccessKeySecret: tea.String("test-secret"),
		Endpoint:        tea.String(s.Endpoint()),
		Protocol:        tea.String("http"),
		NoProxy:         tea.String(s.Endpoint()), // ignore HTTP_PROXY for the emulator
	})
	if err != nil {
		panic(err)
	}
	resp, err := client.DescribeSecurityGroupAttribute(&ecs.DescribeSecurityGroupAttributeRequest{
		RegionId:        tea.String("cn-hangzhou"),
		SecurityGroupId: tea.String("sg-1"),
		Direction:       tea.String("ingress"),
		MaxResults:      tea.Int32(1000),
	})
	if err != nil {
		panic(err)
	}
	for _, p := range resp.Body.Permissions.Permission {
		fmt.Println(tea.StringValue(p.PortRange), tea.StringValue(p.SourceCidrIp), "priority", tea.StringValue(p.Priority))
	}
	fmt.Println("calls:", s.CallCount("DescribeSecurityGroupAttribute"))
	// Output:
	// 22/22 0.0.0.0/0 priority 1
	// 443/443 0.0.0.0/0 priority 2
	// calls: 1
}
