package cloudtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// --- DescribeSecurityGroups ---

type sgItem struct {
	SecurityGroupId, SecurityGroupName, Description, VpcId, SecurityGroupType, CreationTime string
	ServiceManaged                                                                          bool
	RuleCount                                                                               int
	Tags                                                                                    tagSet
}

type describeGroupsResponse struct {
	RequestId, RegionId string
	// NextToken is "" on the last page.
	NextToken string
	// TotalCount, PageNumber and PageSize answer the legacy paging only.
	TotalCount, PageNumber, PageSize *int `json:",omitempty"`
	SecurityGroups                   struct{ SecurityGroup []sgItem }
}

// groupFilter holds the filters of DescribeSecurityGroups.
type groupFilter struct {
	ids                     []string // nil: no id filter
	vpc, name, typ, managed string
	tags                    [][2]string // key, value ("" = any value)
}

func (f *groupFilter) match(g *group) bool {
	m := &g.meta
	if (f.vpc != "" && m.VpcId != f.vpc) || (f.name != "" && m.SecurityGroupName != f.name) ||
		(f.typ != "" && m.SecurityGroupType != f.typ) || (f.managed != "" && strconv.FormatBool(m.ServiceManaged) != f.managed) {
		return false
	}
	for _, t := range f.tags {
		v, ok := m.Tags[t[0]]
		if !ok || (t[1] != "" && v != t[1]) {
			return false
		}
	}
	return true
}

// fingerprint identifies the filters in a NextToken, so that a token is
// only good for the listing it came from.
func (f *groupFilter) fingerprint(region string) string {
	b, _ := json.Marshal([]any{region, f.ids, f.vpc, f.name, f.typ, f.managed, f.tags}) // cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func parseGroupFilter(p map[string][]string) (*groupFilter, *apiError) {
	get := func(k string) string {
		if vs := p[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	f := &groupFilter{vpc: get("VpcId"), name: get("SecurityGroupName"), typ: get("SecurityGroupType")}
	if id := get("SecurityGroupId"); id != "" {
		f.ids = append(f.ids, id)
	}
	if raw := get("SecurityGroupIds"); raw != "" {
		var more []string
		if err := json.Unmarshal([]byte(raw), &more); err != nil || len(more) > maxListParams {
			return nil, invalidParam("SecurityGroupIds", raw)
		}
		f.ids = append(f.ids, more...)
	}
	switch m := strings.ToLower(get("ServiceManaged")); m {
	case "", "true", "false":
		f.managed = m
	default:
		return nil, invalidParam("ServiceManaged", get("ServiceManaged"))
	}
	byN := make(map[int]*[2]string)
	for k, vs := range p {
		rest, ok := strings.CutPrefix(k, "Tag.")
		if !ok {
			continue
		}
		ns, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > 20 || (field != "Key" && field != "Value") {
			return nil, invalidParam(k, vs[0])
		}
		if byN[n] == nil {
			byN[n] = new([2]string)
		}
		if field == "Key" {
			byN[n][0] = vs[0]
		} else {
			byN[n][1] = vs[0]
		}
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	for _, n := range ns {
		if byN[n][0] == "" {
			return nil, missingParam(fmt.Sprintf("Tag.%d.Key", n))
		}
		f.tags = append(f.tags, *byN[n])
	}
	return f, nil
}

func encodeGroupToken(fp, after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("g1|" + fp + "|" + after))
}

func decodeGroupToken(tok, fp string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 || parts[0] != "g1" || parts[1] != fp || parts[2] == "" {
		return "", false
	}
	return parts[2], true
}

// describeSecurityGroups pages with NextToken/MaxResults (1..100, default
// 10), or with the legacy PageNumber/PageSize (1..50), which also answer
// TotalCount; a call with neither answers both styles' fields. Groups come
// sorted by ID; the caller sees only its own account's.
func (s *Server) describeSecurityGroups(r *request) (any, *apiError) {
	p := r.params
	v, aerr := required(p, "RegionId")
	if aerr != nil {
		return nil, aerr
	}
	region := v[0]
	f, aerr := parseGroupFilter(p)
	if aerr != nil {
		return nil, aerr
	}
	tokenStyle := p.Has("NextToken") || p.Has("MaxResults")
	legacy := p.Has("PageNumber") || p.Has("PageSize")
	if tokenStyle && legacy {
		return nil, errorf(400, "InvalidParameter", "PageNumber and PageSize cannot be combined with NextToken and MaxResults.")
	}
	page, aerr := intParam(p, "PageNumber", 1, 1, 1<<30)
	if aerr != nil {
		return nil, aerr
	}
	size, aerr := intParam(p, "PageSize", 10, 1, 50)
	if aerr != nil {
		return nil, aerr
	}
	if tokenStyle {
		if size, aerr = intParam(p, "MaxResults", 10, 1, 100); aerr != nil {
			return nil, aerr
		}
	}
	fp := f.fingerprint(region)
	after := ""
	if tok := p.Get("NextToken"); tok != "" {
		var ok bool
		if after, ok = decodeGroupToken(tok, fp); !ok {
			return nil, errorf(400, codeBadNextToken, "The specified NextToken %q is not valid.", tok)
		}
	}
	account := r.account()

	out := describeGroupsResponse{RequestId: r.requestID, RegionId: region}
	items := make([]sgItem, 0, size)
	total := 0
	s.mu.Lock()
	var ids []string
	if f.ids != nil {
		ids = slices.Clone(f.ids)
		slices.Sort(ids)
		ids = slices.Compact(ids)
	} else {
		ids = s.listing(account, region)
	}
	// Groups after the cursor, in ID order.
	start := sort.Search(len(ids), func(i int) bool { return ids[i] > after })
	if !tokenStyle {
		start = 0
	}
	skip := (page - 1) * size
	if tokenStyle {
		skip = 0
	}
	for _, id := range ids[start:] {
		g := s.visibleGroup(region, id, account)
		if g == nil || !f.match(g) {
			continue
		}
		total++
		switch {
		case skip > 0:
			skip--
		case len(items) < size:
			items = append(items, sgItem{
				SecurityGroupId: g.meta.SecurityGroupId, SecurityGroupName: g.meta.SecurityGroupName,
				Description: g.meta.Description, VpcId: g.meta.VpcId, SecurityGroupType: g.meta.SecurityGroupType,
				CreationTime: g.created.UTC().Format(ecsTime), ServiceManaged: g.meta.ServiceManaged,
				RuleCount: len(g.live), Tags: tagsOf(g.meta.Tags),
			})
		case out.NextToken == "":
			out.NextToken = encodeGroupToken(fp, items[len(items)-1].SecurityGroupId)
		}
		if tokenStyle && out.NextToken != "" {
			break // no TotalCount to count: stop at the first group beyond the page
		}
	}
	s.mu.Unlock()
	if !tokenStyle {
		out.TotalCount, out.PageNumber, out.PageSize = &total, &page, &size
	}
	out.SecurityGroups.SecurityGroup = items
	return out, nil
}

// --- DescribeRegions ---

// localNames of some regions (others are served with their ID).
var localNames = map[string]string{
	"cn-hangzhou": "华东1（杭州）", "cn-shanghai": "华东2（上海）", "cn-beijing": "华北2（北京）",
	"cn-shenzhen": "华南1（深圳）", "cn-zhangjiakou": "华北3（张家口）", "cn-hongkong": "中国香港",
	"ap-southeast-1": "新加坡", "us-west-1": "美国（硅谷）", "eu-central-1": "德国（法兰克福）",
}

type regionItem struct{ RegionId, LocalName, RegionEndpoint, Status string }

// SetRegions sets the regions DescribeRegions lists besides those having
// groups (it replaces the previous list).
func (s *Server) SetRegions(regions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extraRegions = slices.Clone(regions)
}

func (s *Server) describeRegions(r *request) (any, *apiError) {
	s.mu.Lock()
	names := make([]string, 0, len(s.regions)+len(s.extraRegions))
	for id := range s.regions {
		names = append(names, id)
	}
	names = append(names, s.extraRegions...)
	s.mu.Unlock()
	slices.Sort(names)
	names = slices.Compact(names)
	out := struct {
		RequestId string
		Regions   struct{ Region []regionItem }
	}{RequestId: r.requestID}
	out.Regions.Region = make([]regionItem, 0, len(names))
	for _, id := range names {
		ln := localNames[id]
		if ln == "" {
			ln = id
		}
		out.Regions.Region = append(out.Regions.Region, regionItem{id, ln, "ecs." + id + ".aliyuncs.com", "available"})
	}
	return out, nil
}
