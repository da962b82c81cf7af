package cloudtest

import (
	"encoding/json"
	"strconv"
)

// SecurityGroupType is the Config resource type of a security group.
const SecurityGroupType = "ACS::ECS::SecurityGroup"

type discoveredResource struct {
	AccountId            int64
	Region               string
	ResourceId           string
	ResourceType         string
	ResourceName         string
	ResourceDeleted      int
	ResourceStatus       string
	Tags                 string // JSON {"key":["value"]}
	Configuration        string // JSON configDocument
	ResourceCreationTime int64  // ms since the epoch
	AvailabilityZone     string
}

// configDocument is the Configuration of an ACS::ECS::SecurityGroup:
// DescribeSecurityGroupAttribute plus group fields, rules as Config recorded
// them (Priority as a number).
type configDocument struct {
	SecurityGroupId   string
	RegionId          string
	VpcId             string
	SecurityGroupName string
	SecurityGroupType string
	ServiceManaged    bool
	Description       string
	InnerAccessPolicy string
	Tags              tagSet
	Permissions       any // {"Permission": [...]} (nested) or [...] (flat)
}

func (s *Server) getDiscoveredResource(r *request) (any, *apiError) {
	v, aerr := required(r.params, "Region", "ResourceId", "ResourceType")
	if aerr != nil {
		return nil, aerr
	}
	return s.discovered(r, v[0], v[1], v[2], func(owner string) bool { return owner == r.account() })
}

// getAggregateDiscoveredResource serves a resource of a member of an
// account group (aggregator) the caller's account owns.
func (s *Server) getAggregateDiscoveredResource(r *request) (any, *apiError) {
	v, aerr := required(r.params, "AggregatorId", "Region", "ResourceId", "ResourceType", "ResourceAccountId")
	if aerr != nil {
		return nil, aerr
	}
	aggID, region, id, typ, acct := v[0], v[1], v[2], v[3], v[4]
	if validAccountID(acct) != nil {
		return nil, invalidParam("ResourceAccountId", acct)
	}
	if o := r.params.Get("ResourceOwnerId"); o != "" && o != acct {
		return nil, errorf(400, "InvalidParameter", "ResourceOwnerId %q differs from ResourceAccountId %q.", o, acct)
	}
	s.amu.RLock()
	ag := s.aggregators[aggID]
	member := ag != nil && ag.members[acct]
	s.amu.RUnlock()
	if ag == nil || ag.owner != r.account() {
		return nil, errorf(404, "Invalid.AggregatorId.Value", "The aggregator %q does not exist in account %s.", aggID, r.account())
	}
	return s.discovered(r, region, id, typ, func(owner string) bool { return member && owner == acct })
}

// discovered answers the DiscoveredResourceDetail of a group whose owner
// visible admits.
func (s *Server) discovered(r *request, region, id, typ string, visible func(owner string) bool) (any, *apiError) {
	notExist := errorf(404, "ResourceNotExist", "The resource %q of type %q does not exist in region %q.", id, typ, region)
	if typ != SecurityGroupType {
		return nil, notExist
	}
	s.mu.Lock()
	g, ok := s.groups[key(region, id)]
	if !ok || !visible(g.meta.AccountId) {
		s.mu.Unlock()
		return nil, notExist
	}
	meta, snap, created := g.meta, g.snapshot, g.created // snapshot is copy-on-write
	s.mu.Unlock()

	doc := configDocument{
		SecurityGroupId: id, RegionId: region, VpcId: meta.VpcId, SecurityGroupName: meta.SecurityGroupName,
		SecurityGroupType: meta.SecurityGroupType, ServiceManaged: meta.ServiceManaged,
		Description: meta.Description, InnerAccessPolicy: "Accept", Tags: tagsOf(meta.Tags),
	}
	rules := snap
	if rules == nil {
		rules = []Rule{}
	}
	if meta.ConfigShape == "flat" {
		doc.Permissions = rules
	} else {
		doc.Permissions = struct{ Permission []Rule }{rules}
	}
	conf, err := json.Marshal(doc)
	if err != nil {
		return nil, errorf(500, "InternalError", "%v", err)
	}
	tags := make(map[string][]string, len(meta.Tags))
	for k, v := range meta.Tags {
		tags[k] = []string{v}
	}
	tagJSON, _ := json.Marshal(tags)                       // cannot fail
	account, _ := strconv.ParseInt(meta.AccountId, 10, 64) // validated by newGroup
	deleted := 1
	if meta.Deleted {
		deleted = 0
	}
	return struct {
		RequestId                string
		DiscoveredResourceDetail discoveredResource
	}{r.requestID, discoveredResource{
		AccountId: account, Region: region, ResourceId: id, ResourceType: typ,
		ResourceName: meta.SecurityGroupName, ResourceDeleted: deleted, ResourceStatus: "",
		Tags: string(tagJSON), Configuration: string(conf),
		ResourceCreationTime: created.UnixMilli(), AvailabilityZone: "",
	}}, nil
}
