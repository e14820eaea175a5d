// Drives a Trove server with the unmodified node-vault client: health,
// mounts, policies, tokens, KV v2 through the generic read/write/list/
// update/delete calls, and a denied read. Exits non-zero on the first
// mismatch, printing what differed. VAULT_ADDR and VAULT_TOKEN (root) come
// from the environment.
'use strict';
const assert = require('node:assert/strict');
const vault = require('node-vault');

async function main() {
  const root = vault({ apiVersion: 'v1' });

  const health = await root.health();
  assert.equal(health.initialized, true);
  assert.equal(health.sealed, false);
  const status = await root.status();
  assert.equal(status.sealed, false);

  await root.mount({ mount_point: 'nv', type: 'kv', options: { version: '2' } });
  const mounts = await root.mounts();
  assert.equal(mounts.data['nv/'].type, 'kv');
  assert.deepEqual(mounts.data['nv/'].options, { version: '2' });

  await root.write('nv/data/app/db', { data: { password: 'from-node' } });
  let got = await root.read('nv/data/app/db');
  assert.equal(got.data.data.password, 'from-node');
  assert.equal(got.data.metadata.version, 1);
  await root.update('nv/data/app/db', { data: { user: 'app' } });  // PATCH, merge-patch
  got = await root.read('nv/data/app/db');
  assert.deepEqual(got.data.data, { password: 'from-node', user: 'app' });
  const listed = await root.list('nv/metadata/app');
  assert.deepEqual(listed.data.keys, ['db']);

  await root.addPolicy({ name: 'nv-app', rules: 'path "nv/data/app/*" { capabilities = ["read"] }' });
  const pol = await root.getPolicy({ name: 'nv-app' });
  assert.match(pol.rules, /nv\/data\/app/);
  const pols = await root.policies();
  assert.ok(pols.policies.includes('nv-app'));

  // node-vault's tokenCreate switches the calling client to the new token,
  // so mint it with a client of its own.
  const minter = vault({ apiVersion: 'v1' });
  const created = await minter.tokenCreate({ policies: ['nv-app'], ttl: '10m' });
  assert.equal(minter.token, created.auth.client_token);
  const tok = created.auth.client_token;
  assert.ok(tok.startsWith('hvs.'));
  const user = vault({ apiVersion: 'v1', token: tok });
  const self = await user.tokenLookupSelf();
  assert.deepEqual(self.data.policies, ['default', 'nv-app']);
  got = await user.read('nv/data/app/db');
  assert.equal(got.data.data.password, 'from-node');
  await assert.rejects(user.write('nv/data/app/db', { data: { x: 'y' } }), (e) => e.response.statusCode === 403);
  await assert.rejects(user.read('nv/data/other'), (e) => e.response.statusCode === 403);

  await root.delete('nv/metadata/app/db');
  await assert.rejects(root.read('nv/data/app/db'), (e) => e.response.statusCode === 404);
  await root.tokenRevoke({ token: tok });
  await assert.rejects(user.tokenLookupSelf(), (e) => e.response.statusCode === 403);
  await root.removePolicy({ name: 'nv-app' });
  await root.unmount({ mount_point: 'nv' });
  console.log('node-vault: all checks passed');
}

main().catch((e) => {
  console.error('node-vault check failed:', e && (e.stack || e.message || e));
  if (e && e.response) console.error('response:', e.response.statusCode, JSON.stringify(e.response.body));
  process.exit(1);
});
