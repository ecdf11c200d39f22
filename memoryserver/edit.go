package memoryserver

// renameEntity renames an entity; its observations and relations follow it.
func (g *graphTx) renameEntity(oldName, newName string) (entity, error) {
	id, err := g.mustEntityID(oldName)
	if err != nil {
		return entity{}, err
	}
	if oldName != newName {
		if _, taken, err := g.entityID(newName); err != nil || taken {
			if err == nil {
				err = toolErrorf("Entity with name %s already exists", newName)
			}
			return entity{}, err
		}
		if _, err := g.exec("UPDATE entities SET name = ? WHERE id = ?", newName, id); err != nil {
			return entity{}, err
		}
		g.reindex(entityDoc(id))
		if err := g.touch(id); err != nil {
			return entity{}, err
		}
	}
	return g.entity(id)
}

// replaceObservation swaps one observation for another in place, keeping its
// position. If the entity already has the new text, the old one is dropped.
func (g *graphTx) replaceObservation(entityName, oldText, newText string) (entity, error) {
	id, err := g.mustEntityID(entityName)
	if err != nil {
		return entity{}, err
	}
	changed, err := g.ids(`UPDATE OR IGNORE observations SET content = ? WHERE entity_id = ? AND content = ? RETURNING id`, newText, id, oldText)
	if err != nil {
		return entity{}, err
	}
	if len(changed) == 0 {
		changed, err = g.ids("DELETE FROM observations WHERE entity_id = ? AND content = ? RETURNING id", id, oldText)
		if err != nil {
			return entity{}, err
		}
		if len(changed) == 0 {
			return entity{}, toolErrorf("Observation %q not found in entity %s", oldText, entityName)
		}
	}
	g.reindex(changed...)
	if oldText != newText {
		if err := g.touch(id); err != nil {
			return entity{}, err
		}
	}
	return g.entity(id)
}
