package cloudtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Priority is a rule priority (1..100, 1 is highest). It decodes from a JSON
// number or a string ("1" or 1) and encodes as a number.
type Priority int

// UnmarshalJSON accepts 1, "1", "" and null (the last two mean unset).
func (p *Priority) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*p = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*p = 0
			return nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("cloudtest: Priority %s is not an integer", b)
	}
	*p = Priority(n)
	return nil
}

// Rule is a security group rule; field names are the ECS API's.
type Rule struct {
	SecurityGroupRuleId string
	Direction           string // "ingress" or "egress"
	Policy              string // "Accept" or "Drop"
	Priority            Priority
	IpProtocol          string
	PortRange           string
	SourceCidrIp        string
	Ipv6SourceCidrIp    string
	SourceGroupId       string
	SourcePrefixListId  string
	SourcePortRange     string
	DestCidrIp          string
	Ipv6DestCidrIp      string
	NicType             string
	Description         string
	CreateTime          string
}

// Group is a security group as loaded into, and reported by, the server.
type Group struct {
	SecurityGroupId, RegionId string
	// AccountId is the owner, a decimal number (Config serves it as int64).
	// Default DefaultAccountID. Only the owner's credentials see the group
	// (ECS and GetDiscoveredResource); an account named here that was not
	// added with AddAccount is added.
	AccountId                                                string
	SecurityGroupName, VpcId, SecurityGroupType, Description string
	ServiceManaged                                           bool
	Tags                                                     map[string]string
	// Deleted: Config reports ResourceDeleted 0; the ECS API answers
	// InvalidSecurityGroupId.NotFound.
	Deleted bool
	// ConfigShape of the Config configuration document: "nested" (default,
	// Permissions.Permission[]) or "flat" (Permissions[]).
	ConfigShape string
	// Permissions are the live rules (ingress and egress mixed).
	Permissions []Rule
	// SnapshotPermissions are the rules Cloud Config recorded, when they
	// differ from the live ones; nil means "the live rules at load time".
	// Snapshot rules without an ID take the ID of an identical live rule.
	SnapshotPermissions *[]Rule `json:",omitempty"`
}

// fixture is the format Load reads.
type fixture struct {
	Groups []Group `json:"groups"`
}

// group is the server's state of one security group.
type group struct {
	meta Group // without Permissions and SnapshotPermissions
	// live and snapshot are copy-on-write: a mutation installs a new slice
	// (or appends beyond every published length), so a reader may keep the
	// slice it took under s.mu and read it after unlocking.
	live     []Rule
	snapshot []Rule
	gone     bool // DeleteGroup: no longer live, Config still knows it
	created  time.Time
}

func key(region, id string) string { return region + "/" + id }

// ownerRegion keys the listing index.
type ownerRegion struct{ account, region string }

// groupIndex lists the IDs of the groups of one account in one region
// (DeleteGroup'd and Deleted ones included), sorted when sorted is set.
type groupIndex struct {
	ids    []string
	sorted bool
}

// insert adds new groups to the state and the indexes. The caller holds
// s.mu and has checked that none exists.
func (s *Server) insert(gs []*group) {
	for _, g := range gs {
		m := &g.meta
		s.groups[key(m.RegionId, m.SecurityGroupId)] = g
		k := ownerRegion{m.AccountId, m.RegionId}
		ix := s.byOwner[k]
		if ix == nil {
			ix = &groupIndex{sorted: true}
			s.byOwner[k] = ix
		}
		if n := len(ix.ids); n > 0 && ix.ids[n-1] >= m.SecurityGroupId {
			ix.sorted = false
		}
		ix.ids = append(ix.ids, m.SecurityGroupId)
		s.regions[m.RegionId] = true
	}
}

// listing returns the sorted group IDs of an account in a region (the
// slice is shared: do not modify). The caller holds s.mu.
func (s *Server) listing(account, region string) []string {
	ix := s.byOwner[ownerRegion{account, region}]
	if ix == nil {
		return nil
	}
	if !ix.sorted {
		slices.Sort(ix.ids)
		ix.sorted = true
	}
	return ix.ids
}

// addOwners adds the accounts of new groups. Not under s.mu.
func (s *Server) addOwners(gs []*group) {
	s.amu.Lock()
	defer s.amu.Unlock()
	for _, g := range gs {
		s.addAccountLocked(g.meta.AccountId)
	}
}

// LoadFile loads a fixture file (see Load).
func (s *Server) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cloudtest: %w", err)
	}
	defer f.Close()
	if err := s.Load(f); err != nil {
		return fmt.Errorf("%w (in %s)", err, path)
	}
	return nil
}

// Load adds the groups of a fixture, JSON {"groups":[Group...]}, to the
// state. Unknown fields are errors. Either every group is added or none.
// Missing rule fields get defaults: a generated SecurityGroupRuleId,
// Direction "ingress", Policy "Accept", Priority 1, NicType "intranet".
func (s *Server) Load(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var fx fixture
	if err := dec.Decode(&fx); err != nil {
		return fmt.Errorf("cloudtest: fixture: %w", err)
	}
	return s.AddGroups(fx.Groups...)
}

// add inserts new groups, all or none.
func (s *Server) add(gs []*group) error {
	s.mu.Lock()
	for _, g := range gs {
		if _, ok := s.groups[key(g.meta.RegionId, g.meta.SecurityGroupId)]; ok {
			s.mu.Unlock()
			return fmt.Errorf("cloudtest: group %s/%s already exists", g.meta.RegionId, g.meta.SecurityGroupId)
		}
	}
	s.insert(gs)
	s.mu.Unlock()
	s.addOwners(gs)
	return nil
}

// AddGroup adds one group (defaults as for Load).
func (s *Server) AddGroup(g Group) error {
	return s.AddGroups(g)
}

// AddGroupFor adds one group owned by accountID (it overrides g.AccountId).
func (s *Server) AddGroupFor(accountID string, g Group) error {
	g.AccountId = accountID
	return s.AddGroups(g)
}

// AddGroups adds groups (defaults as for Load), all or none. It is the
// cheap way to load thousands (see GenerateGroups): no JSON round trip.
func (s *Server) AddGroups(groups ...Group) error {
	gs := make([]*group, 0, len(groups))
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		ng, err := newGroup(g)
		if err != nil {
			return err
		}
		k := key(g.RegionId, g.SecurityGroupId)
		if seen[k] {
			return fmt.Errorf("cloudtest: group %s listed twice", k)
		}
		seen[k] = true
		gs = append(gs, ng)
	}
	return s.add(gs)
}

// GenerateGroups makes n groups spread round-robin over regions, for
// large fixtures: group i is "sg-gen<i, 6 digits>" in regions[i%len(regions)],
// named "gen-<i>", owned by DefaultAccountID, in VPC "vpc-gen", with one
// ingress rule (TCP 443 from 10.0.0.0/8). edit, if non-nil, may change
// each group (its rules, owner, tags...) before it is returned. Add the
// result with AddGroups.
func GenerateGroups(n int, regions []string, edit func(i int, g *Group)) []Group {
	if len(regions) == 0 {
		regions = []string{"cn-hangzhou"}
	}
	out := make([]Group, n)
	for i := range out {
		g := &out[i]
		g.SecurityGroupId = fmt.Sprintf("sg-gen%06d", i)
		g.RegionId = regions[i%len(regions)]
		g.AccountId = DefaultAccountID
		g.SecurityGroupName = fmt.Sprintf("gen-%d", i)
		g.VpcId = "vpc-gen"
		g.Permissions = []Rule{{IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "10.0.0.0/8"}}
		if edit != nil {
			edit(i, g)
		}
	}
	return out
}

// Group returns a deep copy of a live group (ok is false for an unknown,
// deleted or DeleteGroup'd one). SnapshotPermissions is always set.
func (s *Server) Group(region, id string) (Group, bool) {
	s.mu.Lock()
	g, ok := s.groups[key(region, id)]
	if !ok || g.gone || g.meta.Deleted {
		s.mu.Unlock()
		return Group{}, false
	}
	out := g.meta
	live, snap := g.live, g.snapshot
	s.mu.Unlock()
	out.Tags = maps.Clone(out.Tags)
	out.Permissions = slices.Clone(live)
	sp := slices.Clone(snap)
	out.SnapshotPermissions = &sp
	return out, true
}

// SetLiveRules replaces the live rules of a group; the snapshot is unchanged.
// Rules get the Load defaults; generated IDs are new ones.
func (s *Server) SetLiveRules(region, id string, rules []Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.liveGroup(region, id)
	if err != nil {
		return err
	}
	s.seq++
	seed := fmt.Sprintf("%s/set%d", key(region, id), s.seq)
	live, err := normalizeRules(rules, seed, nil)
	if err != nil {
		return fmt.Errorf("cloudtest: group %s: %w", key(region, id), err)
	}
	g.live = live
	return nil
}

// Resnapshot makes Config's snapshot of a group equal to its live rules.
func (s *Server) Resnapshot(region, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.liveGroup(region, id)
	if err != nil {
		return err
	}
	g.snapshot = slices.Clone(g.live)
	return nil
}

// DeleteGroup removes a group from the live state: the ECS API answers
// InvalidSecurityGroupId.NotFound. Config keeps serving its snapshot with
// ResourceDeleted 1 (Config has not noticed yet) unless Group.Deleted is set.
func (s *Server) DeleteGroup(region, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.liveGroup(region, id)
	if err != nil {
		return err
	}
	g.gone = true
	g.live = nil
	return nil
}

func (s *Server) liveGroup(region, id string) (*group, error) {
	g, ok := s.groups[key(region, id)]
	if !ok || g.gone || g.meta.Deleted {
		return nil, fmt.Errorf("cloudtest: no live group %s", key(region, id))
	}
	return g, nil
}

func newGroup(g Group) (*group, error) {
	if g.SecurityGroupId == "" || g.RegionId == "" {
		return nil, errors.New("cloudtest: a group needs SecurityGroupId and RegionId")
	}
	k := key(g.RegionId, g.SecurityGroupId)
	if g.AccountId == "" {
		g.AccountId = DefaultAccountID
	}
	if validAccountID(g.AccountId) != nil {
		return nil, fmt.Errorf("cloudtest: group %s: AccountId %q is not an int64", k, g.AccountId)
	}
	switch g.ConfigShape {
	case "":
		g.ConfigShape = "nested"
	case "nested", "flat":
	default:
		return nil, fmt.Errorf("cloudtest: group %s: ConfigShape %q is neither nested nor flat", k, g.ConfigShape)
	}
	if g.SecurityGroupType == "" {
		g.SecurityGroupType = "normal"
	}
	live, err := normalizeRules(g.Permissions, k+"/live", nil)
	if err != nil {
		return nil, fmt.Errorf("cloudtest: group %s: %w", k, err)
	}
	snap := slices.Clone(live)
	if g.SnapshotPermissions != nil {
		if snap, err = normalizeRules(*g.SnapshotPermissions, k+"/snapshot", live); err != nil {
			return nil, fmt.Errorf("cloudtest: group %s snapshot: %w", k, err)
		}
	}
	meta := g
	meta.Tags = maps.Clone(g.Tags)
	meta.Permissions, meta.SnapshotPermissions = nil, nil
	return &group{meta: meta, live: live, snapshot: snap, created: time.Now()}, nil
}

// normalizeRules returns a copy of rules with defaults filled in. A rule
// without ID takes the ID of an identical, not yet matched rule in like
// (if any), else a generated one derived from seed and its index.
func normalizeRules(rules []Rule, seed string, like []Rule) ([]Rule, error) {
	out := make([]Rule, len(rules))
	ids := make(map[string]bool, len(rules))
	for i, r := range rules {
		if r.SecurityGroupRuleId != "" {
			if ids[r.SecurityGroupRuleId] {
				return nil, fmt.Errorf("rule ID %s used twice", r.SecurityGroupRuleId)
			}
			ids[r.SecurityGroupRuleId] = true
		}
		r.Direction = strings.ToLower(r.Direction)
		switch r.Direction {
		case "":
			r.Direction = "ingress"
		case "ingress", "egress":
		default:
			return nil, fmt.Errorf("rule %d: Direction %q", i, r.Direction)
		}
		if r.Policy == "" {
			r.Policy = "Accept"
		}
		if r.Priority == 0 {
			r.Priority = 1
		}
		if r.Priority < 1 || r.Priority > 100 {
			return nil, fmt.Errorf("rule %d: Priority %d not in 1..100", i, r.Priority)
		}
		if r.NicType == "" {
			r.NicType = "intranet"
		}
		out[i] = r
	}
	var likeByKey map[ruleKey][]string
	if len(like) > 0 {
		likeByKey = make(map[ruleKey][]string)
		for _, r := range like {
			k := keyOf(r)
			likeByKey[k] = append(likeByKey[k], r.SecurityGroupRuleId)
		}
	}
	for i := range out {
		if out[i].SecurityGroupRuleId != "" {
			continue
		}
		k := keyOf(out[i])
		for len(likeByKey[k]) > 0 && out[i].SecurityGroupRuleId == "" {
			if id := likeByKey[k][0]; !ids[id] {
				out[i].SecurityGroupRuleId = id
				ids[id] = true
			}
			likeByKey[k] = likeByKey[k][1:]
		}
		if out[i].SecurityGroupRuleId == "" {
			id := newRuleID(fmt.Sprintf("%s/%d", seed, i), ids)
			out[i].SecurityGroupRuleId = id
			ids[id] = true
		}
	}
	return out, nil
}

// newRuleID derives "sgr-" + 20 lowercase alphanumerics from seed,
// avoiding the IDs in taken.
func newRuleID(seed string, taken map[string]bool) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for n := 0; ; n++ {
		sum := sha256.Sum256([]byte(seed + "#" + strconv.Itoa(n)))
		b := make([]byte, 4, 24)
		copy(b, "sgr-")
		for _, c := range sum[:20] {
			b = append(b, alphabet[int(c)%len(alphabet)])
		}
		if id := string(b); !taken[id] {
			return id
		}
	}
}

// ruleKey identifies a rule the way AuthorizeSecurityGroup detects
// duplicates: everything but the ID, description and creation time, with
// the API's defaults and case-insensitivity applied.
type ruleKey struct {
	direction, policy, proto, ports, cidr, cidr6, group, prefixList, srcPorts, nic, dst, dst6 string
	priority                                                                                  Priority
}

func keyOf(r Rule) ruleKey {
	k := ruleKey{
		direction:  strings.ToLower(r.Direction),
		policy:     strings.ToLower(r.Policy),
		proto:      strings.ToLower(r.IpProtocol),
		ports:      r.PortRange,
		cidr:       canonicalCIDR(r.SourceCidrIp),
		cidr6:      canonicalCIDR(r.Ipv6SourceCidrIp),
		group:      r.SourceGroupId,
		prefixList: r.SourcePrefixListId,
		srcPorts:   r.SourcePortRange,
		nic:        strings.ToLower(r.NicType),
		dst:        canonicalCIDR(r.DestCidrIp),
		dst6:       canonicalCIDR(r.Ipv6DestCidrIp),
		priority:   r.Priority,
	}
	if k.direction == "" {
		k.direction = "ingress"
	}
	if k.policy == "" {
		k.policy = "accept"
	}
	if k.nic == "" {
		k.nic = "intranet"
	}
	if k.priority == 0 {
		k.priority = 1
	}
	return k
}
