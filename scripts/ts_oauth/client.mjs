// The official TypeScript MCP SDK's OAuth client against the HTTP server (MCP authorization) and the sandbox's
// Membrane: discovery from the 401, dynamic registration, PKCE, the sign-in page (filled in as a person would), the
// token, then the tools; then Membrane's clock moves past the token's expiry, and the client must renew it with its
// refresh token after the server's 401, without asking the person again.
// Usage: node client.mjs <mcp url> <sandbox email> <sandbox password> <sandbox url>. Prints one JSON line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [mcpUrl, email, password, sandboxUrl] = process.argv.slice(2);
const REDIRECT = "http://127.0.0.1:5555/callback";

class MemoryProvider {
  constructor() {
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authorizeUrl = undefined;
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: "ts-sdk-oauth-check",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  redirectToAuthorization(url) { this.authorizeUrl = url; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
}

// A person on the sign-in page: the form as served (hidden fields included), plus their email and password.
async function signIn(authorizeUrl) {
  const page = await fetch(authorizeUrl);
  if (page.status !== 200) throw new Error(`sign-in page answered ${page.status}: ${await page.text()}`);
  const html = await page.text();
  const form = new URLSearchParams();
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(name, value.replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#x27;", "'"));
  }
  form.set("email", email);
  form.set("password", password);
  form.set("workspace", html.match(/<option value="([^"]+)" selected>/)[1]);
  form.set("tenant_key", html.match(/id="tenant_key" name="tenant_key" required value="([^"]*)"/)[1]);
  form.set("decision", "allow");
  const sent = await fetch(authorizeUrl, { method: "POST", body: form, redirect: "manual" });
  const location = sent.headers.get("location");
  if (sent.status !== 302 || !location) throw new Error(`sign-in answered ${sent.status}: ${await sent.text()}`);
  return new URL(location).searchParams.get("code");
}

const provider = new MemoryProvider();
const report = { unauthorizedFirst: false };
let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
let client = new Client({ name: "ts-oauth-check", version: "1.0.0" });
try {
  await client.connect(transport);
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
  report.unauthorizedFirst = true;
}
if (!provider.authorizeUrl) throw new Error("the SDK never asked to open an authorization URL");
report.authorizeUrl = provider.authorizeUrl.toString();
report.scope = provider.authorizeUrl.searchParams.get("scope");
report.resource = provider.authorizeUrl.searchParams.get("resource");
const code = await signIn(provider.authorizeUrl);
await transport.finishAuth(code);
report.gotRefreshToken = Boolean(provider.saved?.refresh_token);

transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
client = new Client({ name: "ts-oauth-check", version: "1.0.0" });
await client.connect(transport);
report.tools = (await client.listTools()).tools.map((tool) => tool.name).sort();
const ensured = await client.callTool({ name: "ensure_connection", arguments: {} });
report.state = ensured.structuredContent?.state;
const found = await client.callTool({ name: "search_actions", arguments: { intent: "how many users are online now" } });
report.firstAction = found.structuredContent?.actions?.[0]?.key;

const before = provider.saved.access_token;
const authorizeCalls = provider.authorizeUrl;
provider.authorizeUrl = undefined;
await fetch(`${sandboxUrl}/_sandbox/oauth/advance`, { method: "POST", body: JSON.stringify({ seconds: 3601 }) });
const refused = await client.callTool({ name: "ensure_connection", arguments: {} });
report.expiredCallIsError = refused.isError === true;
const renewed = await client.callTool({ name: "ensure_connection", arguments: {} });
report.stateAfterRenewal = renewed.structuredContent?.state;
report.renewedWithoutPerson = provider.saved.access_token !== before && provider.authorizeUrl === undefined;
provider.authorizeUrl = authorizeCalls;
await client.close();
console.log(JSON.stringify(report));
