// A real MCP client of the 2026-07-28 era: the TypeScript SDK v2 Client
// (@modelcontextprotocol/client) with its Streamable HTTP transport, OAuth
// support and version negotiation. The Go test that runs it plays the
// browser: this script prints "AUTHORIZE <url>" and reads the callback URL
// the browser landed on from stdin. Results are printed as "RESULT <json>".
//
// Usage: node tsclient2.mjs <mcp-url> <client-name> <legacy|auto|2026-07-28> <tool> <arguments-json>
// Env:   CLIENT_DIR  the @modelcontextprotocol/client package directory
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const { Client, StreamableHTTPClientTransport, UnauthorizedError } = await import(
  pathToFileURL(`${process.env.CLIENT_DIR}/dist/index.mjs`).href
);

const [mcpURL, clientName, mode, tool, args] = process.argv.slice(2);
const versionNegotiation = { mode: mode === "legacy" || mode === "auto" ? mode : { pin: mode } };
const redirectUrl = "http://127.0.0.1:53683/callback";
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// provider keeps what a real client keeps between runs, in memory.
const store = {};
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: clientName,
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    };
  },
  clientInformation: () => store.client,
  saveClientInformation: (c) => { store.client = c; },
  tokens: () => store.tokens,
  saveTokens: (t) => { store.tokens = t; },
  saveCodeVerifier: (v) => { store.verifier = v; },
  codeVerifier: () => store.verifier,
  // The issuer the flow started with, so the callback's iss (RFC 9207) and
  // the credentials are bound to it (SEP-2352).
  saveDiscoveryState: (d) => { store.discovery = d; },
  discoveryState: () => store.discovery,
  redirectToAuthorization: async (url) => {
    console.log(`AUTHORIZE ${url.href}`);
    store.callback = new URL((await lines.next()).value);
  },
};

const result = (r) => console.log(`RESULT ${JSON.stringify(r)}`);
const newClient = () => new Client({ name: clientName, version: "1.0.0" }, { versionNegotiation });

async function connect() {
  const client = newClient();
  const transport = new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    if (!store.callback?.searchParams.get("code")) throw new Error(`no code in callback ${store.callback}`);
    await transport.finishAuth(store.callback.searchParams); // checks iss before the code is redeemed
    const again = newClient();
    await again.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
    return again;
  }
}

let client = await connect();
result({
  step: "connected",
  era: client.getProtocolEra(),
  version: client.getNegotiatedProtocolVersion(),
  discovered: client.getDiscoverResult()?.supportedVersions ?? null,
});
const tools = await client.listTools();
result({ step: "tools", names: tools.tools.map((t) => t.name) });
const called = await client.callTool({ name: tool, arguments: JSON.parse(args) });
result({ step: "call", isError: called.isError ?? false, text: JSON.stringify(called.content) });
await client.close();

// Refresh: spoil the access token; the SDK gets a 401 and uses the refresh
// token instead of asking the user again.
store.tokens = { ...store.tokens, access_token: "spoiled" };
store.callback = undefined;
client = await connect();
const again = await client.callTool({ name: tool, arguments: JSON.parse(args) });
result({ step: "refreshed", askedUserAgain: store.callback !== undefined, isError: again.isError ?? false });
await client.close();
process.exit(0);
