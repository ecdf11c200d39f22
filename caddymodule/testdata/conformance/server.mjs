// A Streamable HTTP MCP server with the fixtures the official conformance
// suite's server scenarios call (test_* tools, prompts and resources),
// written from the requirements each scenario states
// (`conformance list`, scenario descriptions). server-everything has other
// tools, so against it most tools scenarios cannot pass; against this
// server they exercise what a gateway must relay: content of every type,
// log and progress notifications, and sampling and elicitation requests
// sent to the client on a call's event stream.
//
// Usage: node server.mjs <port>       (listens on 127.0.0.1)
//        node server.mjs stdio        (one session on stdin/stdout)
// Env:   SDK_DIR  the @modelcontextprotocol/sdk package directory
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const sdk = (p) => import(pathToFileURL(`${process.env.SDK_DIR}/dist/esm/${p}`).href);
const { Server } = await sdk("server/index.js");
const { StreamableHTTPServerTransport } = await sdk("server/streamableHttp.js");
const t = await sdk("types.js");

// A 1x1 PNG and a WAV file with no samples.
const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const wav = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";
const text = (s) => ({ content: [{ type: "text", text: s }] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const noArgs = { type: "object", properties: {} };

// elicit asks the client for input on the call's stream.
const elicit = (extra, message, properties) =>
  extra.sendRequest({ method: "elicitation/create", params: { message, requestedSchema: { type: "object", properties } } }, t.ElicitResultSchema);

const tools = {
  test_simple_text: { run: async () => text("This is a simple text response for testing.") },
  test_image_content: { run: async () => ({ content: [{ type: "image", data: png, mimeType: "image/png" }] }) },
  test_audio_content: { run: async () => ({ content: [{ type: "audio", data: wav, mimeType: "audio/wav" }] }) },
  test_embedded_resource: {
    run: async () => ({ content: [{ type: "resource", resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." } }] }),
  },
  test_multiple_content_types: {
    run: async () => ({
      content: [
        { type: "text", text: "Multiple content types test:" },
        { type: "image", data: png, mimeType: "image/png" },
        { type: "resource", resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: '{"test":"data","value":123}' } },
      ],
    }),
  },
  test_error_handling: { run: async () => ({ ...text("This tool always fails, on purpose."), isError: true }) },
  test_tool_with_logging: {
    run: async (args, extra) => {
      for (const [i, data] of ["Tool execution started", "Tool processing data", "Tool execution completed"].entries()) {
        if (i > 0) await sleep(50);
        await extra.sendNotification({ method: "notifications/message", params: { level: "info", data } });
      }
      return text("Logged three messages.");
    },
  },
  test_tool_with_progress: {
    run: async (args, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (const [i, progress] of [0, 50, 100].entries()) {
        if (i > 0) await sleep(50);
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, total: 100 } });
        }
      }
      return text("Progress reported.");
    },
  },
  test_sampling: {
    schema: { type: "object", properties: { prompt: { type: "string" } }, required: ["prompt"] },
    run: async (args, extra) => {
      const r = await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: args.prompt } }], maxTokens: 100 } },
        t.CreateMessageResultSchema,
      );
      return text(`LLM response: ${r.content.text}`);
    },
  },
  test_elicitation: {
    schema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
    run: async (args, extra) => {
      const r = await elicit(extra, args.message, {
        username: { type: "string", description: "User's response" },
        email: { type: "string", description: "User's email address" },
      });
      return text(`User response: action=${r.action}, content=${JSON.stringify(r.content)}`);
    },
  },
  test_elicitation_sep1034_defaults: {
    run: async (args, extra) => {
      const r = await elicit(extra, "Defaults for every primitive type", {
        name: { type: "string", default: "John Doe" },
        age: { type: "integer", default: 30 },
        score: { type: "number", default: 95.5 },
        status: { type: "string", enum: ["active", "inactive", "pending"], default: "active" },
        verified: { type: "boolean", default: true },
      });
      return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content)}`);
    },
  },
  test_elicitation_sep1330_enums: {
    run: async (args, extra) => {
      const r = await elicit(extra, "Every enum variant", {
        untitledSingle: { type: "string", enum: ["option1", "option2", "option3"] },
        titledSingle: { type: "string", oneOf: [{ const: "value1", title: "First Option" }, { const: "value2", title: "Second Option" }, { const: "value3", title: "Third Option" }] },
        legacyEnum: { type: "string", enum: ["opt1", "opt2", "opt3"], enumNames: ["Option One", "Option Two", "Option Three"] },
        untitledMulti: { type: "array", items: { type: "string", enum: ["option1", "option2", "option3"] } },
        titledMulti: { type: "array", items: { anyOf: [{ const: "value1", title: "First Choice" }, { const: "value2", title: "Second Choice" }, { const: "value3", title: "Third Choice" }] } },
      });
      return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content)}`);
    },
  },
  json_schema_2020_12_tool: {
    schema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
    run: async (args) => text(`Received ${JSON.stringify(args)}`),
  },
};

const prompts = {
  test_simple_prompt: { args: [], get: () => [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }] },
  test_prompt_with_arguments: {
    args: ["arg1", "arg2"],
    get: (a) => [{ role: "user", content: { type: "text", text: `Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'` } }],
  },
  test_prompt_with_embedded_resource: {
    args: ["resourceUri"],
    get: (a) => [
      { role: "user", content: { type: "resource", resource: { uri: a.resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } } },
      { role: "user", content: { type: "text", text: "Please process the embedded resource above." } },
    ],
  },
  test_prompt_with_image: {
    args: [],
    get: () => [
      { role: "user", content: { type: "image", data: png, mimeType: "image/png" } },
      { role: "user", content: { type: "text", text: "Please analyze the image above." } },
    ],
  },
};

const resources = {
  "test://static-text": { mimeType: "text/plain", text: "This is the content of the static text resource." },
  "test://static-binary": { mimeType: "image/png", blob: png },
};

// newServer is one session's MCP server.
function newServer() {
  const s = new Server(
    { name: "mcpgate-conformance-fixture", version: "1.0.0" },
    { capabilities: { tools: {}, prompts: {}, resources: { subscribe: true }, logging: {}, completions: {} } },
  );
  s.setRequestHandler(t.ListToolsRequestSchema, async () => ({
    tools: Object.entries(tools).map(([name, tool]) => ({ name, description: `Conformance fixture ${name}`, inputSchema: tool.schema ?? noArgs })),
  }));
  s.setRequestHandler(t.CallToolRequestSchema, async (req, extra) => {
    const tool = tools[req.params.name];
    if (!tool) return { ...text(`Unknown tool ${req.params.name}`), isError: true };
    return tool.run(req.params.arguments ?? {}, { ...extra, _meta: req.params._meta });
  });
  s.setRequestHandler(t.ListPromptsRequestSchema, async () => ({
    prompts: Object.entries(prompts).map(([name, p]) => ({ name, description: `Conformance fixture ${name}`, arguments: p.args.map((a) => ({ name: a, required: true })) })),
  }));
  s.setRequestHandler(t.GetPromptRequestSchema, async (req) => {
    const p = prompts[req.params.name];
    if (!p) throw new t.McpError(t.ErrorCode.InvalidParams, `Prompt ${req.params.name} not found`);
    return { messages: p.get(req.params.arguments ?? {}) };
  });
  s.setRequestHandler(t.ListResourcesRequestSchema, async () => ({
    resources: Object.entries(resources).map(([uri, r]) => ({ uri, name: uri, mimeType: r.mimeType })),
  }));
  s.setRequestHandler(t.ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [{ uriTemplate: "test://template/{id}/data", name: "template", mimeType: "application/json" }],
  }));
  s.setRequestHandler(t.ReadResourceRequestSchema, async (req) => {
    const uri = req.params.uri;
    const id = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)?.[1];
    if (id) return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] };
    if (!resources[uri]) throw new t.McpError(t.ErrorCode.InvalidParams, `Resource ${uri} not found`);
    return { contents: [{ uri, ...resources[uri] }] };
  });
  s.setRequestHandler(t.SubscribeRequestSchema, async () => ({}));
  s.setRequestHandler(t.UnsubscribeRequestSchema, async () => ({}));
  s.setRequestHandler(t.SetLevelRequestSchema, async () => ({}));
  s.setRequestHandler(t.CompleteRequestSchema, async () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return s;
}

if (process.argv[2] === "stdio") {
  const { StdioServerTransport } = await sdk("server/stdio.js");
  await newServer().connect(new StdioServerTransport());
} else {
  serveHTTP(Number(process.argv[2]));
}

// serveHTTP listens on port, one transport per session, created by
// initialize.
function serveHTTP(port) {
  const sessions = new Map();
  createServer(async (req, res) => {
    const id = req.headers["mcp-session-id"];
    let transport = id && sessions.get(id);
    if (!transport && !id && req.method === "POST") {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      transport.onclose = () => sessions.delete(transport.sessionId);
      await newServer().connect(transport);
    }
    if (!transport) {
      res.writeHead(id ? 404 : 400, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: id ? "Session not found" : "Missing session id" } }));
      return;
    }
    await transport.handleRequest(req, res);
  }).listen(port, "127.0.0.1", () => console.error("listening"));
}
