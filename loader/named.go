package loader

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tune-dify/tune/spaces"
)

// ScenarioNames are the scenarios a load can run: every workload scenario
// of a space (spaces.Scenarios) and Dify's plain workflow route.
var ScenarioNames = append(slices.Clone(spaces.Scenarios), "workflow")

// ScenarioOptions are what some scenarios need beyond their name.
type ScenarioOptions struct {
	DatasetID    string // retrieval: the knowledge base
	Conversation bool   // chat scenarios: users continue their conversation
}

// ErrNeedDataset: the retrieval scenario needs a knowledge base id.
var ErrNeedDataset = fmt.Errorf("scenario retrieval needs a knowledge base id")

// NamedScenario is the Scenario that drives a named scenario: the chat
// route for chatflow, agent and llm apps, the workflow route, or a
// knowledge base's retrieval.
func NamedScenario(name string, o ScenarioOptions) (Scenario, error) {
	switch name {
	case "chatflow", "agent", "llm":
		return &Chat{Conversation: o.Conversation}, nil
	case "workflow":
		return &Workflow{}, nil
	case "retrieval":
		if o.DatasetID == "" {
			return nil, ErrNeedDataset
		}
		return &Retrieval{DatasetID: o.DatasetID}, nil
	}
	return nil, fmt.Errorf("scenario %q: want one of %s", name, strings.Join(ScenarioNames, ", "))
}
