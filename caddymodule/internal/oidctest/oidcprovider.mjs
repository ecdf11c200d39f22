// A real OpenID provider for the tests: panva's oidc-provider (certified),
// on a loopback port, with a user database of the tests' own and the users'
// groups in a custom claim (team_groups), requiring PKCE of every client.
//
// Usage: node oidcprovider.mjs <config.json>, with
//   { "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//     "users": { "<login>": { "password", "email", "email_verified", "groups": [...] } },
//     "id_token_ttl": <seconds> }
// It prints "ISSUER <url>" once it listens. The sign-in page
// (/interaction/<uid>) is a plain form with the inputs login and password,
// checked against the users; consent is given without a page. POST
// /_test/users replaces the users (a group removed, an account disabled).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const modules = process.env.NODE_MODULES_DIR;
const { default: Provider } = await import(pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href);

let users = config.users;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['team_groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: false } },
  // PKCE for every client, confidential ones too, as OAuth 2.1 has it.
  pkce: { required: () => true },
  ttl: {
    IdToken: config.id_token_ttl || 3600,
    AccessToken: 3600,
    AuthorizationCode: 60,
    Grant: 86400,
    Interaction: 600,
    Session: 86400,
    RefreshToken: 86400,
  },
  cookies: { keys: ['oidcprovider-test-cookie-key'] },
  // A refresh token for whoever asks for offline_access: the gateway keeps
  // it to check the user again later.
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  async findAccount(_ctx, id) {
    const u = users[id];
    if (!u || u.disabled) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: u.email, email_verified: u.email_verified !== false, name: id, team_groups: u.groups || [] };
      },
    };
  },
});

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body>${html}</body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const uid = details.uid;
  if (req.method === 'GET' && details.prompt.name === 'login') {
    return page(res, 200, `<h1>Test provider sign-in</h1><form method="post" action="/interaction/${uid}">
<input name="login"><input name="password" type="password"><button type="submit">Sign in</button></form>`);
  }
  if (req.method === 'POST' && details.prompt.name === 'login') {
    const form = await readForm(req);
    const u = users[form.get('login')];
    if (!u || u.disabled || u.password !== form.get('password')) {
      return page(res, 401, '<p>wrong login or password</p>');
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
  }
  // consent: grant what was asked.
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
  if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    if (req.url.startsWith('/interaction/')) return await interaction(req, res);
    if (req.url === '/_test/users' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      users = JSON.parse(body);
      res.writeHead(204);
      return res.end();
    }
    return callback(req, res);
  } catch (err) {
    console.error(err);
    page(res, 500, `<p>${String(err)}</p>`);
  }
});

console.log(`ISSUER ${issuer}`);
