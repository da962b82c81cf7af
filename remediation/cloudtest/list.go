package cloudtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
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
	v, aerr := required(r.params, "RegionId")
	if aerr != nil {
		return nil, aerr
	}
	region := v[0]
	f, aerr := parseGroupFilter(r.params)
	if aerr != nil {
		return nil, aerr
	}
	pg, aerr := parseGroupPaging(r.params, f.fingerprint(region))
	if aerr != nil {
		return nil, aerr
	}
	items, total, next := s.selectGroupPage(region, r.account(), f, pg)
	out := describeGroupsResponse{RequestId: r.requestID, RegionId: region, NextToken: next}
	if !pg.tokenStyle {
		out.TotalCount, out.PageNumber, out.PageSize = &total, &pg.page, &pg.size
	}
	out.SecurityGroups.SecurityGroup = items
	return out, nil
}

// groupPaging is how one DescribeSecurityGroups call pages.
type groupPaging struct {
	tokenStyle bool   // NextToken/MaxResults; else legacy PageNumber/PageSize
	page, size int    // page: legacy only (1 otherwise); size: PageSize or MaxResults
	fp         string // fingerprint of the filters, sealed in NextToken
	after      string // token style: the group ID the previous page ended with
}

// parseGroupPaging reads the paging parameters of DescribeSecurityGroups.
// fp is the fingerprint of its filters, which a NextToken must carry.
func parseGroupPaging(p url.Values, fp string) (*groupPaging, *apiError) {
	pg := &groupPaging{fp: fp, tokenStyle: p.Has("NextToken") || p.Has("MaxResults")}
	if pg.tokenStyle && (p.Has("PageNumber") || p.Has("PageSize")) {
		return nil, errorf(400, "InvalidParameter", "PageNumber and PageSize cannot be combined with NextToken and MaxResults.")
	}
	var aerr *apiError
	if pg.page, aerr = intParam(p, "PageNumber", 1, 1, 1<<30); aerr != nil {
		return nil, aerr
	}
	if pg.size, aerr = intParam(p, "PageSize", 10, 1, 50); aerr != nil {
		return nil, aerr
	}
	if pg.tokenStyle {
		if pg.size, aerr = intParam(p, "MaxResults", 10, 1, 100); aerr != nil {
			return nil, aerr
		}
	}
	if tok := p.Get("NextToken"); tok != "" {
		var ok bool
		if pg.after, ok = decodeGroupToken(tok, fp); !ok {
			return nil, errorf(400, codeBadNextToken, "The specified NextToken %q is not valid.", tok)
		}
	}
	return pg, nil
}

// selectGroupPage picks, in ID order, the page pg asks for of the groups of
// account in region that f matches. total counts the matching groups (the
// token style, which answers no TotalCount, stops counting at the first
// group beyond the page); next is the NextToken of the following page, ""
// on the last.
func (s *Server) selectGroupPage(region, account string, f *groupFilter, pg *groupPaging) (items []sgItem, total int, next string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.groupCandidates(f, account, region)
	start, skip := 0, (pg.page-1)*pg.size
	if pg.tokenStyle {
		// Groups after the cursor, in ID order.
		start = sort.Search(len(ids), func(i int) bool { return ids[i] > pg.after })
		skip = 0
	}
	items = make([]sgItem, 0, pg.size)
	for _, id := range ids[start:] {
		g := s.visibleGroup(region, id, account)
		if g == nil || !f.match(g) {
			continue
		}
		total++
		switch {
		case skip > 0:
			skip--
		case len(items) < pg.size:
			items = append(items, sgItemOf(g))
		case next == "":
			next = encodeGroupToken(pg.fp, items[len(items)-1].SecurityGroupId)
		}
		if pg.tokenStyle && next != "" {
			break // no TotalCount to count: stop at the first group beyond the page
		}
	}
	return items, total, next
}

// groupCandidates returns the sorted IDs a listing goes through: those the
// filter names (without duplicates), else all the account's in region. The
// caller holds s.mu and must not modify the slice.
func (s *Server) groupCandidates(f *groupFilter, account, region string) []string {
	if f.ids == nil {
		return s.listing(account, region)
	}
	ids := slices.Clone(f.ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// sgItemOf renders a group as DescribeSecurityGroups lists it. The caller
// holds s.mu.
func sgItemOf(g *group) sgItem {
	return sgItem{
		SecurityGroupId: g.meta.SecurityGroupId, SecurityGroupName: g.meta.SecurityGroupName,
		Description: g.meta.Description, VpcId: g.meta.VpcId, SecurityGroupType: g.meta.SecurityGroupType,
		CreationTime: g.created.UTC().Format(ecsTime), ServiceManaged: g.meta.ServiceManaged,
		RuleCount: len(g.live), Tags: tagsOf(g.meta.Tags),
	}
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
