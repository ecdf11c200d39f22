package memoryserver

// Batches are written with a fixed number of statements whatever their
// size: the items go to SQLite as one JSON array (json_each; rows of several
// columns through jsonb_each, whose values are binary JSON that ->> reads
// without parsing each row's text again: a tenth of an import), and
// RETURNING tells which rows were new. A statement per item cost more than the
// reference's whole-file rewrite on graphs of a few thousand entities.

// createEntities stores the entities whose names are new, each once even if
// the batch repeats it, and returns them as stored.
func (g *graphTx) createEntities(in []entity) ([]entity, error) {
	newIDs, err := g.insertEntities(in)
	if err != nil {
		return nil, err
	}
	created := []entity{}
	for i, e := range in {
		if newIDs[i] != 0 {
			created = append(created, entity{Name: e.Name, EntityType: e.EntityType, Observations: distinct(e.Observations),
				CreatedAt: stamp(g.now), UpdatedAt: stamp(g.now)})
		}
	}
	return created, nil
}

// insertEntities stores the entities whose names are new, with their
// observations; newIDs[i] is the id of in[i] if it was stored (of a name
// the batch repeats, the first), else 0.
func (g *graphTx) insertEntities(in []entity) (newIDs []int64, err error) {
	rows := make([][2]string, len(in))
	for i, e := range in {
		rows[i] = [2]string{e.Name, e.EntityType}
	}
	ids := map[string]int64{}
	var id int64
	var name string
	err = g.each(`INSERT INTO entities (owner, name, entity_type, created_at, updated_at)
		SELECT ?1, value ->> 0, value ->> 1, ?2, ?2 FROM jsonb_each(?3) WHERE true
		ON CONFLICT (owner, name) DO NOTHING RETURNING id, name`,
		[]any{g.owner, g.now, jsonArray(rows)}, []any{&id, &name}, func() { ids[name] = id })
	if err != nil {
		return nil, err
	}
	newIDs = make([]int64, len(in))
	var obs []observationRow
	for i, e := range in {
		id, ok := ids[e.Name]
		if !ok {
			continue // exists already, or repeated in this batch
		}
		delete(ids, e.Name)
		newIDs[i] = id
		for _, c := range distinct(e.Observations) {
			obs = append(obs, observationRow{id, c})
		}
		g.indexNew(entityDoc(id))
	}
	if len(obs) == 0 {
		return newIDs, nil
	}
	// The entities are new, so their observations, each once, are too: no
	// conflict to resolve and only the new ids to read back.
	obsIDs, err := g.ids(`INSERT INTO observations (entity_id, content, created_at)
		SELECT value ->> 0, value ->> 1, ? FROM jsonb_each(?) RETURNING id`, g.now, observationRowsJSON(obs))
	g.indexNew(obsIDs...)
	return newIDs, err
}

// observationRow is one observation of one entity, as json_each reads it.
type observationRow struct {
	entityID int64
	content  string
}

// observationRowsJSON encodes rows as json_each reads them: [[id, content], ...].
// (A MarshalJSON method on observationRow cost a tenth of an import: the
// encoder re-checks what such a method returns.)
func observationRowsJSON(rows []observationRow) string {
	pairs := make([][2]any, len(rows))
	for i, o := range rows {
		pairs[i] = [2]any{o.entityID, o.content}
	}
	return jsonArray(pairs)
}

// insertObservations adds the rows whose contents their entity does not
// have yet, in order, and returns those it added.
func (g *graphTx) insertObservations(rows []observationRow) (map[observationRow]bool, error) {
	added := map[observationRow]bool{}
	if len(rows) == 0 {
		return added, nil
	}
	var o observationRow
	var id int64
	err := g.each(`INSERT INTO observations (entity_id, content, created_at)
		SELECT value ->> 0, value ->> 1, ?1 FROM jsonb_each(?2) WHERE true
		ON CONFLICT (entity_id, content) DO NOTHING RETURNING id, entity_id, content`,
		[]any{g.now, observationRowsJSON(rows)}, []any{&id, &o.entityID, &o.content}, func() {
			added[o] = true
			g.indexNew(id)
		})
	return added, err
}

// entityIDs looks entities up by name; names that do not exist are missing
// from the map.
func (g *graphTx) entityIDs(names []string) (map[string]int64, error) {
	ids := make(map[string]int64, len(names))
	var id int64
	var name string
	err := g.each(`SELECT id, name FROM entities WHERE owner = ? AND name IN (SELECT value FROM json_each(?))`,
		[]any{g.owner, jsonArray(names)}, []any{&id, &name}, func() { ids[name] = id })
	return ids, err
}

// createRelations stores the new relations. Every endpoint must exist: a
// relation to a missing entity fails the whole call and stores nothing.
func (g *graphTx) createRelations(in []relation) ([]relation, error) {
	names := make([]string, 0, 2*len(in))
	for _, r := range in {
		names = append(names, r.From, r.To)
	}
	ids, err := g.entityIDs(names)
	if err != nil {
		return nil, err
	}
	return g.insertRelations(in, ids)
}

// insertRelations is createRelations with the endpoints' ids looked up
// already (ids may hold more names).
func (g *graphTx) insertRelations(in []relation, ids map[string]int64) ([]relation, error) {
	type key struct {
		from, to int64
		typ      string
	}
	rows := make([][3]any, len(in))
	for i, r := range in {
		for _, name := range []string{r.From, r.To} {
			if _, ok := ids[name]; !ok {
				return nil, relationEndpoint(notFound(name), r)
			}
		}
		rows[i] = [3]any{ids[r.From], ids[r.To], r.RelationType}
	}
	added := map[key]bool{}
	var k key
	err := g.each(`INSERT INTO relations (owner, from_id, to_id, relation_type, created_at)
		SELECT ?1, value ->> 0, value ->> 1, value ->> 2, ?2 FROM jsonb_each(?3) WHERE true
		ON CONFLICT (from_id, to_id, relation_type) DO NOTHING RETURNING from_id, to_id, relation_type`,
		[]any{g.owner, g.now, jsonArray(rows)}, []any{&k.from, &k.to, &k.typ}, func() { added[k] = true })
	if err != nil {
		return nil, err
	}
	created := []relation{}
	for _, r := range in {
		k := key{ids[r.From], ids[r.To], r.RelationType}
		if added[k] {
			delete(added, k) // a repeat in this batch is not new
			created = append(created, relation{From: r.From, To: r.To, RelationType: r.RelationType, CreatedAt: stamp(g.now)})
		}
	}
	return created, nil
}

// relationEndpoint adds the refused relation to a not-found error.
func relationEndpoint(err error, r relation) error {
	if te, ok := err.(*toolError); ok {
		return toolErrorf("%s (relation %s -[%s]-> %s not created; create both entities first)", te.msg, r.From, r.RelationType, r.To)
	}
	return err
}

// observationAdd is one item of add_observations.
type observationAdd struct {
	EntityName string   `json:"entityName"`
	Contents   []string `json:"contents"`
}

// observationResult is one item of add_observations' output.
type observationResult struct {
	EntityName        string   `json:"entityName"`
	AddedObservations []string `json:"addedObservations"`
}

// addObservations adds observations to existing entities; an unknown entity
// fails the whole call.
func (g *graphTx) addObservations(in []observationAdd) ([]observationResult, error) {
	names := make([]string, len(in))
	for i, o := range in {
		names[i] = o.EntityName
	}
	ids, err := g.entityIDs(names)
	if err != nil {
		return nil, err
	}
	var rows []observationRow
	for _, o := range in {
		id, ok := ids[o.EntityName]
		if !ok {
			return nil, notFound(o.EntityName)
		}
		for _, c := range o.Contents {
			rows = append(rows, observationRow{id, c})
		}
	}
	added, err := g.insertObservations(rows)
	if err != nil {
		return nil, err
	}
	results := []observationResult{}
	var touched []int64
	for _, o := range in {
		r := observationResult{EntityName: o.EntityName, AddedObservations: []string{}}
		for _, c := range o.Contents {
			row := observationRow{ids[o.EntityName], c}
			if added[row] {
				delete(added, row) // a repeat in this call is not new
				r.AddedObservations = append(r.AddedObservations, c)
			}
		}
		if len(r.AddedObservations) > 0 {
			touched = append(touched, ids[o.EntityName])
		}
		results = append(results, r)
	}
	return results, g.touch(touched...)
}

// distinct returns the strings of in without repeats, in order.
func distinct(in []string) []string {
	out := []string{}
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// deleteEntities removes entities with their observations and relations;
// unknown names are ignored.
func (g *graphTx) deleteEntities(names []string) error {
	for _, name := range names {
		id, ok, err := g.entityID(name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		obs, err := g.ids("DELETE FROM observations WHERE entity_id = ? RETURNING id", id)
		if err != nil {
			return err
		}
		if _, err := g.exec("DELETE FROM entities WHERE id = ?", id); err != nil {
			return err
		}
		g.reindex(append(obs, entityDoc(id))...)
	}
	return nil
}

// observationDelete is one item of delete_observations.
type observationDelete struct {
	EntityName   string   `json:"entityName"`
	Observations []string `json:"observations"`
}

// deleteObservations removes observations; unknown entities and contents are
// ignored, as in the reference.
func (g *graphTx) deleteObservations(in []observationDelete) error {
	for _, d := range in {
		id, ok, err := g.entityID(d.EntityName)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		changed := false
		for _, c := range d.Observations {
			gone, err := g.ids("DELETE FROM observations WHERE entity_id = ? AND content = ? RETURNING id", id, c)
			if err != nil {
				return err
			}
			g.reindex(gone...)
			changed = len(gone) > 0 || changed
		}
		if changed {
			if err := g.touch(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteRelations removes the given relations; unknown ones are ignored.
func (g *graphTx) deleteRelations(in []relation) error {
	for _, r := range in {
		_, err := g.exec(`DELETE FROM relations WHERE owner = ?1 AND relation_type = ?4
			AND from_id = (SELECT id FROM entities WHERE owner = ?1 AND name = ?2)
			AND to_id = (SELECT id FROM entities WHERE owner = ?1 AND name = ?3)`,
			g.owner, r.From, r.To, r.RelationType)
		if err != nil {
			return err
		}
	}
	return nil
}
