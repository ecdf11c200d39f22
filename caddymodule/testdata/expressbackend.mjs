// An MCP server built the way the TypeScript SDK documents it: Express from
// createMcpExpressApp (express.json() parses bodies) and a stateless
// Streamable HTTP transport given req.body. Its two tools answer with their
// own name, so a test sees which one ran.
//
// Usage: node expressbackend.mjs <port>       (listens on 127.0.0.1)
// Env:   SDK_DIR  the @modelcontextprotocol/sdk package directory
import { pathToFileURL } from "node:url";

const sdk = (p) => import(pathToFileURL(`${process.env.SDK_DIR}/dist/esm/${p}`).href);
const { McpServer } = await sdk("server/mcp.js");
const { StreamableHTTPServerTransport } = await sdk("server/streamableHttp.js");
const { createMcpExpressApp } = await sdk("server/express.js");

const app = createMcpExpressApp({ host: "localhost" });
app.post("/mcp", async (req, res) => {
  const server = new McpServer({ name: "express-backend", version: "1" });
  for (const name of ["read_graph", "delete_entities"]) {
    server.registerTool(name, { description: name }, async () => ({ content: [{ type: "text", text: "ran " + name }] }));
  }
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.listen(Number(process.argv[2]), "127.0.0.1");
