// A real MCP client: the TypeScript SDK's Client with its Streamable HTTP
// transport and OAuth support. The Go test that runs it plays the browser:
// this script prints "AUTHORIZE <url>" and reads the callback URL the
// browser landed on from stdin. Results are printed as "RESULT <json>".
//
// Usage: node tsclient.mjs <mcp-url> <client-name>
// Env:   SDK_DIR  the @modelcontextprotocol/sdk package directory
//        CLIENT_METADATA_URL  optional: the https URL of the client's
//        metadata document, which the SDK uses as its client_id instead of
//        registering when the server advertises client_id_metadata_document_supported
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const sdk = (p) => import(pathToFileURL(`${process.env.SDK_DIR}/dist/esm/${p}`).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { UnauthorizedError } = await sdk("client/auth.js");

const [mcpURL, clientName] = process.argv.slice(2);
const redirectUrl = "http://127.0.0.1:53682/callback";
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// provider keeps what a real client keeps between runs, in memory.
const store = {};
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadataUrl() { return process.env.CLIENT_METADATA_URL || undefined; },
  get clientMetadata() {
    return {
      client_name: clientName,
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  clientInformation: () => store.client,
  saveClientInformation: (c) => { store.client = c; },
  tokens: () => store.tokens,
  saveTokens: (t) => { store.tokens = t; store.saved = (store.saved ?? 0) + 1; },
  saveCodeVerifier: (v) => { store.verifier = v; },
  codeVerifier: () => store.verifier,
  redirectToAuthorization: async (url) => {
    console.log(`AUTHORIZE ${url.href}`);
    store.callback = new URL((await lines.next()).value);
  },
};

const result = (r) => console.log(`RESULT ${JSON.stringify(r)}`);

async function connect() {
  const client = new Client({ name: clientName, version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    const code = store.callback?.searchParams.get("code");
    if (!code) throw new Error(`no code in callback ${store.callback}`);
    await transport.finishAuth(code);
    const again = new Client({ name: clientName, version: "1.0.0" });
    await again.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
    return again;
  }
}

let client = await connect();
const tools = await client.listTools();
result({ step: "tools", names: tools.tools.map((t) => t.name) });
const created = await client.callTool({
  name: "create_entities",
  arguments: { entities: [{ name: `${clientName}-note`, entityType: "note", observations: ["written by the TypeScript SDK"] }] },
});
result({ step: "create", isError: created.isError ?? false });
result({ step: "client", client_id: store.client.client_id, refresh: Boolean(store.tokens.refresh_token) });
await client.close();

// Refresh: spoil the access token; the SDK gets a 401 and uses the refresh
// token instead of asking the user again.
const before = store.tokens.refresh_token;
store.tokens = { ...store.tokens, access_token: "spoiled" };
store.callback = undefined;
client = await connect();
const graph = await client.callTool({ name: "search_nodes", arguments: { query: clientName } });
result({
  step: "refreshed",
  rotated: store.tokens.refresh_token !== before,
  askedUserAgain: store.callback !== undefined,
  found: JSON.stringify(graph.structuredContent ?? graph.content).includes(`${clientName}-note`),
});
await client.close();
process.exit(0);
