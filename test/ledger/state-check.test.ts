/**
 * State against ledger, on both backends: rows edited in the store outside the spine
 * are found by the comparison with a rebuild (`audit verify --data-dir/--database`), a
 * policy row no longer matching its content address is refused where it is read, and
 * an active member row the ledger never made authenticates nothing.
 */
import { expect, it } from 'vitest';
import { compareStateWithLedger, requireTrustBaseMatchesLedger } from '../../src/app/state-check.js';
import { findMember } from '../../src/ceremony/members.js';
import { main } from '../../src/cli/main.js';
import { currentPolicy } from '../../src/policy/queries.js';
import { asyncRejection } from '../support/errors.js';
import { createTestPlane, newMember, type TestPlane } from '../support/control-plane.js';
import { buildGovernanceHistory, buildHistory } from '../support/history.js';
import { describeEachBackend, useFreshInstance, type BackendInstance } from '../store/backends.js';
import { captureOutput as capture } from '../support/cli-output.js';

const WORKLOAD = 'team1/service';

/** `covenant audit verify` reading the instance's store directly (the SQLite one closed first: it is locked while open). */
async function verifyLocally(instance: BackendInstance, plane: TestPlane): Promise<{ code: number; text: string }> {
  const out = capture();
  const where = instance.url === undefined ? ['--data-dir', instance.dataDir] : ['--database', instance.url];
  if (instance.url === undefined) await instance.store.close();
  const code = await main(['audit', 'verify', ...where, '--log-key', plane.logKey.vkey], out, { COVENANT_HOME: instance.dataDir });
  return { code, text: out.text() };
}

/** A second policy document for the workload, accepting a release the ledger never accepted. */
async function editPolicyRow(plane: TestPlane): Promise<string> {
  const row = await plane.cp.store.db.selectFrom('policy_versions').select(['id', 'doc']).where('workload', '=', WORKLOAD).orderBy('number', 'desc').limit(1).executeTakeFirstOrThrow();
  const doc = JSON.parse(row.doc) as { accepted: { version: string; digest: string }[] };
  doc.accepted.push({ version: '0.9.0-evil', digest: `sha256:${'ee'.repeat(32)}` });
  await plane.cp.store.db.updateTable('policy_versions').set({ doc: JSON.stringify(doc) }).where('id', '=', row.id).execute();
  return row.id;
}

async function insertStranger(plane: TestPlane): Promise<void> {
  const stranger = newMember('mallory');
  await plane.cp.store.db
    .insertInto('members')
    .values({ tenant: plane.tenant, name: stranger.name, public_key: stranger.publicKey, alg: stranger.alg, roles: JSON.stringify(['admin']), status: 'active', created_at: new Date().toISOString() })
    .execute();
}

describeEachBackend('state checked against the ledger', (backend) => {
  const instance = useFreshInstance(backend);

  async function history(): Promise<TestPlane> {
    const plane = await createTestPlane(instance().store);
    await buildHistory(plane);
    await buildGovernanceHistory(plane);
    return plane;
  }

  it('an untouched store matches its rebuild, table by table, and audit verify --data-dir/--database passes', async () => {
    const plane = await history();
    expect(await compareStateWithLedger(plane.cp.store.db, plane.tenant, { pageSize: 7 })).toBeUndefined();
    await requireTrustBaseMatchesLedger(plane.cp.store.db, plane.tenant);
    const { code, text } = await verifyLocally(instance(), plane);
    expect(text).toMatch(/^ok: \d+ entries, \d+ checkpoints verified; tree size \d+, root [0-9a-f]{64}; state matches the ledger$/);
    expect(code).toBe(0);
  });

  it('a policy row edited in the store is refused where it is read, and found by start and by audit verify', async () => {
    const plane = await history();
    const id = await editPolicyRow(plane);
    const refused = await asyncRejection(currentPolicy(plane.cp.store.db, plane.tenant, WORKLOAD));
    expect(refused.type).toBe('integrity');
    expect(refused.status).toBe(500);
    expect(await compareStateWithLedger(plane.cp.store.db, plane.tenant)).toMatchObject({ table: 'policy_versions', key: `tenant="${plane.tenant}", id="${id}"`, column: 'doc' });
    expect((await asyncRejection(requireTrustBaseMatchesLedger(plane.cp.store.db, plane.tenant))).type).toBe('integrity');
    const { code, text } = await verifyLocally(instance(), plane);
    expect(text).toBe(`covenant: state differs from the ledger: policy_versions [tenant="${plane.tenant}", id="${id}"]: column doc differs from the ledger's`);
    expect(code).toBe(4);
  });

  it('a policy row renumbered to pass for the current version is refused too', async () => {
    const plane = await history();
    const first = await plane.cp.store.db.selectFrom('policy_versions').select('id').where('workload', '=', WORKLOAD).where('number', '=', 1).executeTakeFirstOrThrow();
    await plane.cp.store.db.updateTable('policy_versions').set({ number: 99 }).where('id', '=', first.id).execute();
    expect((await asyncRejection(currentPolicy(plane.cp.store.db, plane.tenant, WORKLOAD))).type).toBe('integrity');
  });

  it('a member row the ledger never made is no member, and is found by start and by audit verify', async () => {
    const plane = await history();
    await insertStranger(plane);
    expect(await findMember(plane.cp.store.db, plane.tenant, 'mallory')).toBeUndefined();
    expect(await findMember(plane.cp.store.db, plane.tenant, plane.admin.name)).toMatchObject({ name: plane.admin.name, status: 'active' });
    const start = await asyncRejection(requireTrustBaseMatchesLedger(plane.cp.store.db, plane.tenant));
    expect(start.message).toBe(
      `state does not match the ledger: members [tenant="${plane.tenant}", name="mallory"]: row is in the store but no ledger entry made it; restore the store from a backup or rebuild it from the ledger (see docs on audit verify)`,
    );
    const { code, text } = await verifyLocally(instance(), plane);
    expect(text).toBe(`covenant: state differs from the ledger: members [tenant="${plane.tenant}", name="mallory"]: row is in the store but no ledger entry made it`);
    expect(code).toBe(4);
  });

  it('a removed member set back to active, or given more roles, is no member', async () => {
    const plane = await history();
    const members = () => plane.cp.store.db.updateTable('members').where('tenant', '=', plane.tenant);
    // Vouched for once (memoised), then altered: the memo does not outlive the change.
    expect(await findMember(plane.cp.store.db, plane.tenant, 'operator')).toMatchObject({ status: 'removed' });
    await members().set({ status: 'active' }).where('name', '=', 'operator').execute();
    expect(await findMember(plane.cp.store.db, plane.tenant, 'operator')).toBeUndefined();
    expect(await findMember(plane.cp.store.db, plane.tenant, 'carol')).toMatchObject({ roles: ['admin'] });
    await members().set({ roles: JSON.stringify(['admin', 'auditor']) }).where('name', '=', 'carol').execute();
    expect(await findMember(plane.cp.store.db, plane.tenant, 'carol')).toBeUndefined();
    expect(await compareStateWithLedger(plane.cp.store.db, plane.tenant)).toMatchObject({ table: 'members', key: `tenant="${plane.tenant}", name="carol"`, column: 'roles' });
  });

  it('a projection row deleted from any table is reported as missing', async () => {
    const plane = await history();
    await plane.cp.store.db.deleteFrom('trust_anchors').where('tenant', '=', plane.tenant).execute();
    const difference = await compareStateWithLedger(plane.cp.store.db, plane.tenant);
    expect(difference).toMatchObject({ table: 'trust_anchors', message: expect.stringMatching(/row the ledger made is missing from the store$/) as unknown });
    expect(difference?.column).toBeUndefined();
  });
});
