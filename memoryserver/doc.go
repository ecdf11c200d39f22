// Package memoryserver is a durable knowledge-graph memory server that speaks
// plain JSON-RPC 2.0 (MCP without sessions or streaming) over HTTP and stdio.
//
// It is wire-compatible with the reference @modelcontextprotocol/server-memory:
// the same nine tools (create_entities, create_relations, add_observations,
// delete_entities, delete_observations, delete_relations, read_graph,
// search_nodes, open_nodes) with the same schemas and replies, the same
// memory://knowledge-graph resource, and its JSONL file format for Import
// and Export. On top of that it stores the graph in SQLite (WAL, one
// transaction per tool call, fsync at commit), so concurrent callers and
// several processes never lose a write, and it adds, without breaking
// existing clients:
//
//   - createdAt/updatedAt timestamps on entities and relations;
//   - ranked search: it finds exactly the entities the reference finds (the
//     whole query as one case-insensitive substring of a name, type or
//     observation), those with a text holding the query's words as words
//     first (bm25, name over type over observation), the others in
//     creation order;
//   - optional limit, cursor and namesOnly on read_graph and search_nodes;
//   - the tools rename_entity and replace_observation;
//   - per-user graphs selected by a trusted request header
//     (Options.SubjectHeader), for use behind the mcpgate gateway.
//
// It also fixes the reference's defects: a batch that repeats an entity,
// observation or relation stores it once, and a relation to an entity that
// does not exist is refused with a clear error instead of being stored.
package memoryserver
