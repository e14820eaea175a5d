// oidc_provider.js — a real OpenID provider (npm oidc-provider) on
// loopback for the OIDC tests: one confidential client registered for
// Trove, users whose groups claim the tests read, and the library's own
// development login and consent forms (any password signs a user in).
//
//   node oidc_provider.js '<json>'   with {"port", "client_id",
//   "client_secret", "redirect_uris": [...], "users": {"ann": {"groups":
//   [...], "email": "..."}}}
//
// Prints "READY <issuer>" once it listens; stops on SIGTERM. The library
// (ESM only) is loaded from tests/integration/node/node_modules.
const path = require('path');
const { pathToFileURL } = require('url');

async function main() {
const lib = path.join(__dirname, 'node', 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider } = await import(pathToFileURL(lib).href);
const cfg = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${cfg.port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.client_id,
    client_secret: cfg.client_secret,
    redirect_uris: cfg.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
  scopes: ['openid', 'email', 'groups'],
  pkce: { methods: ['S256'], required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['trove-test-cookie-key'] },
  async findAccount(ctx, id) {
    const user = cfg.users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, groups: user.groups };
      },
    };
  },
});
provider.proxy = false;

const server = provider.listen(cfg.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
