package memoryserver

import "errors"

// entities loads the entities with the given ids, in the order of ids.
// namesOnly skips observations and timestamps.
func (g *graphTx) entities(ids []int64, namesOnly bool) ([]entity, error) {
	list := jsonArray(ids)
	byID := make(map[int64]*entity, len(ids))
	var id, created, updated int64
	var name, typ string
	err := g.each(`SELECT id, name, entity_type, created_at, updated_at FROM entities
		WHERE id IN (SELECT value FROM json_each(?))`, []any{list}, []any{&id, &name, &typ, &created, &updated}, func() {
		e := &entity{Name: name, EntityType: typ}
		if !namesOnly {
			e.Observations, e.CreatedAt, e.UpdatedAt = []string{}, stamp(created), stamp(updated)
		}
		byID[id] = e
	})
	if err != nil {
		return nil, err
	}
	if !namesOnly {
		if err := g.fillObservations(list, byID); err != nil {
			return nil, err
		}
	}
	out := make([]entity, 0, len(ids))
	for _, id := range ids {
		if e, ok := byID[id]; ok {
			out = append(out, *e)
		}
	}
	return out, nil
}

func (g *graphTx) fillObservations(list string, byID map[int64]*entity) error {
	var id int64
	var content string
	return g.each(`SELECT entity_id, content FROM observations
		WHERE entity_id IN (SELECT value FROM json_each(?)) ORDER BY entity_id, id`, []any{list}, []any{&id, &content}, func() {
		byID[id].Observations = append(byID[id].Observations, content)
	})
}

// entity loads one entity in full.
func (g *graphTx) entity(id int64) (entity, error) {
	es, err := g.entities([]int64{id}, false)
	if err != nil || len(es) == 0 {
		return entity{}, err
	}
	return es[0], nil
}

// relations returns, in creation order, the relations that start at one
// of ids, or with touching also those that end at one of them.
func (g *graphTx) relations(ids []int64, touching bool) ([]relation, error) {
	filter := "r.from_id IN (SELECT value FROM json_each(?1))"
	if touching {
		filter = "r.id IN (SELECT id FROM relations WHERE from_id IN (SELECT value FROM json_each(?1)) " +
			"UNION SELECT id FROM relations WHERE to_id IN (SELECT value FROM json_each(?1)))"
	}
	out := []relation{}
	var r relation
	var created int64
	err := g.each(`SELECT f.name, t.name, r.relation_type, r.created_at FROM relations r
		JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id
		WHERE `+filter+` ORDER BY r.id`, []any{jsonArray(ids)}, []any{&r.From, &r.To, &r.RelationType, &created}, func() {
		r.CreatedAt = stamp(created)
		out = append(out, r)
	})
	return out, err
}

// ids runs a query that selects entity ids.
func (g *graphTx) ids(query string, args ...any) ([]int64, error) {
	var ids []int64
	var id int64
	err := g.each(query, args, []any{&id}, func() { ids = append(ids, id) })
	return ids, err
}

// each runs query and calls fn after scanning each row into dest.
func (g *graphTx) each(query string, args, dest []any, fn func()) error {
	rows, err := g.query(query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		fn()
	}
	return errors.Join(rows.Err(), rows.Close())
}
