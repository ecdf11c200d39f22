package memoryserver

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
)

// pageArgs are the optional paging arguments of read_graph and search_nodes.
type pageArgs struct {
	// Limit caps the entities in one reply; 0 means all of them.
	Limit int `json:"limit"`
	// Cursor is a nextCursor from an earlier reply.
	Cursor string `json:"cursor"`
	// NamesOnly returns only names and types of entities.
	NamesOnly bool `json:"namesOnly"`
}

// A cursor is opaque to clients: base64 of "<kind>:<position>", where the
// position is the last entity id seen (read_graph, stable while the graph
// changes) or an offset into the ranked hits (search_nodes).
const (
	cursorAfterID = "id"
	cursorOffset  = "offset"
)

func encodeCursor(kind string, pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(pos, 10)))
}

// decodeCursor returns the cursor's position, 0 for no cursor.
func decodeCursor(kind, cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	k, pos, ok := strings.Cut(string(raw), ":")
	n, perr := strconv.ParseInt(pos, 10, 64)
	if err != nil || !ok || k != kind || perr != nil || n < 0 {
		return 0, toolErrorf("Invalid cursor %q: pass the nextCursor of an earlier reply of the same tool", cursor)
	}
	return n, nil
}

// readGraph returns the whole graph, or one page of it: the page's entities
// in creation order and the relations that start at them, so that walking all
// pages yields every relation exactly once.
func (g *graphTx) readGraph(p pageArgs) (graph, error) {
	after, err := decodeCursor(cursorAfterID, p.Cursor)
	if err != nil {
		return graph{}, err
	}
	query := "SELECT id FROM entities WHERE owner = ? AND id > ? ORDER BY id"
	args := []any{g.owner, after}
	if p.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, p.Limit+1)
	}
	ids, err := g.ids(query, args...)
	if err != nil {
		return graph{}, err
	}
	var next string
	if p.Limit > 0 && len(ids) > p.Limit {
		ids = ids[:p.Limit]
		next = encodeCursor(cursorAfterID, ids[len(ids)-1])
	}
	return g.subgraph(ids, p.NamesOnly, false, next)
}

// subgraph assembles the entities ids and their relations into a reply.
func (g *graphTx) subgraph(ids []int64, namesOnly, touching bool, next string) (graph, error) {
	entities, err := g.entities(ids, namesOnly)
	if err != nil {
		return graph{}, err
	}
	relations, err := g.relations(ids, touching)
	if err != nil {
		return graph{}, err
	}
	return graph{Entities: entities, Relations: relations, NextCursor: next}, nil
}

// openNodes returns the named entities in creation order, with every
// relation that starts or ends at one of them.
func (g *graphTx) openNodes(names []string) (graph, error) {
	// Sorting here, not in SQL, keeps the planner on the (owner, name) index.
	ids, err := g.ids(`SELECT id FROM entities WHERE owner = ? AND name IN (SELECT value FROM json_each(?))`,
		g.owner, jsonArray(names))
	if err != nil {
		return graph{}, err
	}
	slices.Sort(ids)
	return g.subgraph(ids, false, true, "")
}
