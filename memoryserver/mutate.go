package memoryserver

import "database/sql"

// createEntities stores the entities whose names are new, each once even if
// the batch repeats it, and returns them as stored.
func (g *graphTx) createEntities(in []entity) ([]entity, error) {
	created := []entity{}
	for _, e := range in {
		res, err := g.exec(`INSERT INTO entities (owner, name, entity_type, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner, name) DO NOTHING`,
			g.owner, e.Name, e.EntityType, g.now, g.now)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // exists already (possibly from earlier in this batch)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		obs, err := g.insertObservations(id, e.Observations)
		if err != nil {
			return nil, err
		}
		g.reindex(id)
		created = append(created, entity{Name: e.Name, EntityType: e.EntityType, Observations: obs,
			CreatedAt: stamp(g.now), UpdatedAt: stamp(g.now)})
	}
	return created, nil
}

// insertObservations adds the contents the entity does not have yet and
// returns those, in order and each once.
func (g *graphTx) insertObservations(id int64, contents []string) ([]string, error) {
	added := []string{}
	for _, c := range contents {
		res, err := g.exec(`INSERT INTO observations (entity_id, content, created_at)
			VALUES (?, ?, ?) ON CONFLICT (entity_id, content) DO NOTHING`, id, c, g.now)
		if err != nil {
			return nil, err
		}
		if affected(res) {
			added = append(added, c)
		}
	}
	return added, nil
}

// createRelations stores the new relations. Every endpoint must exist: a
// relation to a missing entity fails the whole call and stores nothing.
func (g *graphTx) createRelations(in []relation) ([]relation, error) {
	created := []relation{}
	for _, r := range in {
		from, err := g.mustEntityID(r.From)
		if err != nil {
			return nil, relationEndpoint(err, r)
		}
		to, err := g.mustEntityID(r.To)
		if err != nil {
			return nil, relationEndpoint(err, r)
		}
		res, err := g.exec(`INSERT INTO relations (owner, from_id, to_id, relation_type, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (from_id, to_id, relation_type) DO NOTHING`,
			g.owner, from, to, r.RelationType, g.now)
		if err != nil {
			return nil, err
		}
		if affected(res) {
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
	results := []observationResult{}
	for _, o := range in {
		id, err := g.mustEntityID(o.EntityName)
		if err != nil {
			return nil, err
		}
		added, err := g.insertObservations(id, o.Contents)
		if err != nil {
			return nil, err
		}
		if len(added) > 0 {
			if err := g.touch(id); err != nil {
				return nil, err
			}
		}
		results = append(results, observationResult{EntityName: o.EntityName, AddedObservations: added})
	}
	return results, nil
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
		if _, err := g.exec("DELETE FROM entities WHERE id = ?", id); err != nil {
			return err
		}
		g.reindex(id)
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
			res, err := g.exec("DELETE FROM observations WHERE entity_id = ? AND content = ?", id, c)
			if err != nil {
				return err
			}
			changed = affected(res) || changed
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

// affected reports whether a statement changed a row.
func affected(res sql.Result) bool {
	n, err := res.RowsAffected()
	return err == nil && n > 0
}
