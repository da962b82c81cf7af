package remediation

import (
	"context"
	"encoding/json"
	"fmt"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// resource converts the answer; action names the call for the error.
func (b *discoveredBody) resource(action string) (*DiscoveredResource, error) {
	if b.Detail == nil {
		return nil, &APIError{Action: action, Code: "ResourceNotExist", StatusCode: 200, Message: "the answer has no DiscoveredResourceDetail"}
	}
	d := b.Detail
	res := &DiscoveredResource{
		ResourceID:    d.ResourceID,
		Region:        d.Region,
		ResourceType:  d.ResourceType,
		AccountID:     d.AccountID.String(),
		Deleted:       d.ResourceDeleted != nil && *d.ResourceDeleted == 0,
		Configuration: []byte(d.Configuration),
		Tags:          map[string][]string{},
	}
	if d.Tags != "" {
		// Tags is a JSON string: {"key":["value", ...]}. A malformed one is
		// not fatal: the configuration document carries the tags too.
		_ = json.Unmarshal([]byte(d.Tags), &res.Tags)
	}
	return res, nil
}

var (
	getAggregateParams   = rpc("GetAggregateDiscoveredResource", "2020-09-07", "GET")
	putEvaluationsParams = rpc("PutEvaluations", "2020-09-07", "POST")
)

// GetAggregateDiscoveredResource implements ConfigAPI. SDK v3.0.0's typed
// request lacks ResourceAccountId, the current API's required field, so
// this goes through the generic CallApi; the deprecated ResourceOwnerId is
// sent beside it with the same value.
func (c *Cloud) GetAggregateDiscoveredResource(ctx context.Context, aggregatorID, accountID, region, resourceID, resourceType string) (*DiscoveredResource, error) {
	const action = "GetAggregateDiscoveredResource"
	cl, done, err := c.configClient()
	if err != nil {
		return nil, err
	}
	defer done()
	q := map[string]*string{
		"AggregatorId": tea.String(aggregatorID), "Region": tea.String(region),
		"ResourceId": tea.String(resourceID), "ResourceType": tea.String(resourceType),
	}
	if accountID != "" {
		q["ResourceAccountId"], q["ResourceOwnerId"] = tea.String(accountID), tea.String(accountID)
	}
	var body discoveredBody
	if err := c.callJSON(ctx, &cl.Client, c.configRegion, getAggregateParams, q, resourceID, &body); err != nil {
		return nil, err
	}
	return body.resource(action)
}

// Evaluation is one verdict of the custom rule, as PutEvaluations takes it
// (lowerCamel keys, accountId a number).
type Evaluation struct {
	ComplianceResourceID   string `json:"complianceResourceId"`
	ComplianceResourceType string `json:"complianceResourceType"`
	ComplianceRegionID     string `json:"complianceRegionId"`
	AccountID              int64  `json:"accountId"`
	ComplianceType         string `json:"complianceType"`
	OrderingTimestamp      int64  `json:"orderingTimestamp"`
	Annotation             string `json:"annotation"`
}

// resultTokenResource names PutEvaluations' target in errors: the result
// token itself is a credential of sorts and is never printed.
const resultTokenResource = "(evaluation)"

// PutEvaluations implements ConfigAPI. SDK v3.0.0 has no typed call: it is
// an RPC POST with a form body, Evaluations a JSON string.
func (c *Cloud) PutEvaluations(ctx context.Context, resultToken string, evaluations []Evaluation) error {
	const action = "PutEvaluations"
	evs, err := json.Marshal(evaluations)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	cl, done, err := c.configClient()
	if err != nil {
		return err
	}
	defer done()
	body := map[string]any{"ResultToken": resultToken, "Evaluations": string(evs)}
	var out struct {
		Result bool `json:"Result"`
	}
	if err := c.call(ctx, &cl.Client, c.configRegion, putEvaluationsParams, &openapi.OpenApiRequest{Body: body}, resultTokenResource, &out); err != nil {
		return err
	}
	if !out.Result {
		return &APIError{Action: action, Code: "ResultFalse", StatusCode: 200, Message: "PutEvaluations answered Result false"}
	}
	return nil
}
