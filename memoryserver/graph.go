package memoryserver

import "time"

// entity is a node of the knowledge graph as the tools return it. The first
// three fields are the reference server's; the timestamps are additions that
// the output schemas declare. In names-only mode Observations and the
// timestamps are left out.
type entity struct {
	// Name identifies the entity within its owner's graph.
	Name string `json:"name"`
	// EntityType is a free-form type such as "person".
	EntityType string `json:"entityType"`
	// Observations are the facts recorded about the entity, in insertion order.
	Observations []string `json:"observations,omitzero"`
	// CreatedAt is when the entity was created (RFC 3339, UTC, milliseconds).
	CreatedAt string `json:"createdAt,omitempty"`
	// UpdatedAt is when its name, type or observations last changed.
	UpdatedAt string `json:"updatedAt,omitempty"`
}

// relation is a directed, typed edge between two entities.
type relation struct {
	// From is the name of the source entity.
	From string `json:"from"`
	// To is the name of the target entity.
	To string `json:"to"`
	// RelationType is in active voice, e.g. "works_at".
	RelationType string `json:"relationType"`
	// CreatedAt is when the relation was created (RFC 3339, UTC, milliseconds).
	CreatedAt string `json:"createdAt,omitempty"`
}

// graph is the output of read_graph, search_nodes and open_nodes.
type graph struct {
	Entities   []entity   `json:"entities"`
	Relations  []relation `json:"relations"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// stamp formats a stored Unix-millisecond time for output.
func stamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
