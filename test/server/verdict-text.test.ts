/**
 * The ledger's text is as right as its verdict: a reason that quotes a release's
 * lifecycle status quotes the status it has when the verdict is made — after a
 * retirement on this replica, or on another replica of the same database.
 */
import { describe, expect, it } from 'vitest';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { SimAttester } from '../../src/sim/attester.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import type { AttestationVerdict } from '../../src/verifier/verdict.js';
import { describeEachBackend, postgresBackend } from '../store/backends.js';
import { createTestReplica, createTestServer, manualClock, type TestServer } from '../support/control-plane.js';
import { injectTransport } from '../support/fleet.js';
import { WORKLOAD, WORKLOAD_PATH, entries, sha256, useTestServer } from './support.js';

const T0 = new Date('2026-11-22T12:00:00.000Z');
const root = createVendorRoot({ now: new Date(T0.getTime() - 86_400_000) });
const platform = issuePlatformIdentity(root, { now: new Date(T0.getTime() - 86_400_000), platformId: 'rack1.node1' });
const OPTIONS = { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] };
const V1 = sha256('1');
const V2 = sha256('2');

async function expectStatus(server: TestServer, url: string, body: unknown, status = 201): Promise<void> {
  const res = await server.signed('POST', url, body);
  expect(res.statusCode, res.body).toBe(status);
}

/** Releases 1.0.0 and 2.0.0, the first accepted. */
async function seed(server: TestServer): Promise<void> {
  await expectStatus(server, '/v1/workloads', { name: WORKLOAD });
  await expectStatus(server, `${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [V1], securityVersion: 1 });
  await expectStatus(server, `${WORKLOAD_PATH}/releases`, { version: '2.0.0', class: 'sim', measurements: [V2], securityVersion: 2 });
  await expectStatus(server, `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first release' });
}

/** Replaces 1.0.0 by 2.0.0: 1.0.0 is retired. */
async function retire(server: TestServer): Promise<void> {
  await expectStatus(server, `${WORKLOAD_PATH}/policy`, { accept: ['2.0.0'], remove: ['1.0.0'], reason: 'retire 1.0.0' });
}

async function attest(server: TestServer, measurement: string): Promise<string> {
  const tee = new SimulatedTee(platform, { measurement, svn: 1, debug: false, configDigests: {} });
  return (await new SimAttester({ server: 'http://covenant.test', workload: WORKLOAD, tee, transport: injectTransport(server.app) }).attest()).status;
}

/** The reasons of the newest `attestation.verdict` in the ledger. */
async function lastVerdictReasons(server: TestServer): Promise<AttestationVerdict['reasons']> {
  const verdicts = (await entries(server.app, 'limit=1000')).filter((entry) => entry.type === 'attestation.verdict');
  return (verdicts.at(-1)!.payload as AttestationVerdict).reasons;
}

async function expectRetiredText(server: TestServer): Promise<void> {
  expect((await lastVerdictReasons(server)).filter((reason) => reason.code === 'release-not-accepted')).toEqual([
    { code: 'release-not-accepted', severity: 'contraindicated', message: 'the evidence matches release 1.0.0 (retired), which policy version 2 does not accept' },
  ]);
}

describeEachBackend('a verdict quotes the release status in force', (backend) => {
  const fixture = useTestServer(backend, OPTIONS);

  it('after 1.0.0 was retired, a 1.0.0 instance\'s reason says retired, not the status the verifier saw before', async () => {
    const { server } = fixture();
    await seed(server);
    // The verifier reads (and caches) the release set while 1.0.0 is accepted.
    expect(await attest(server, V1)).toBe('complete');
    expect(await lastVerdictReasons(server)).toEqual([]);
    await retire(server);
    await attest(server, V1);
    await expectRetiredText(server);
  });
});

describe('[postgres] a verdict quotes the release status in force on two replicas of one database', () => {
  it('a retirement made on one replica is quoted by the other', async () => {
    const instance = await postgresBackend.create();
    try {
      const clock = manualClock();
      const primary = await createTestServer(instance.store, clock, OPTIONS);
      const replica = await createTestReplica(await instance.open(), primary, clock, OPTIONS);
      try {
        await seed(primary);
        await attest(replica, V1);
        await attest(primary, V1);
        await retire(primary);
        await attest(replica, V1);
        await expectRetiredText(replica);
        await attest(primary, V1);
        await expectRetiredText(primary);
      } finally {
        await replica.app.close();
        await primary.app.close();
      }
    } finally {
      await instance.destroy();
    }
  });
});
