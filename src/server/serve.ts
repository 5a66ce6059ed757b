import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AttestationService, type EvidenceVerifier } from '../app/attestation.js';
import { VerificationMaterial } from '../app/verification-material.js';
import { ControlPlane } from '../app/control-plane.js';
import { requireTrustBaseMatchesLedger } from '../app/state-check.js';
import { TokenKeyRing } from '../app/token-key-ring.js';
import { loadBootstrapAdmins, loadKeyBrokerKeys, loadTenantKeys, type KeyBrokerKeyIds } from '../app/tenant-keys.js';
import { keysRecordedEntry, recordedKeyIds, recordKeyIds } from '../app/key-ids.js';
import { createTenant } from '../ceremony/members.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CovenantError } from '../core/errors.js';
import { KeyBroker } from '../keys/broker.js';
import { FileKms } from '../keys/kms.js';
import { sealingMasterId } from '../keys/slots.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { buildServer, REDACTED_PATHS } from './app.js';
import { pruneAttestationState } from '../app/retention.js';
import { DEFAULT_INVENTORY_RETENTION_SECONDS, pruneInventory } from '../verifier/inventory.js';
import { DEFAULT_DRIVER_INTERVAL_SECONDS, RolloutDriver } from '../app/rollout-driver.js';
import { DEFAULT_ADMISSION, type AdmissionLimits } from './admission.js';
import { pruneNonces } from './auth.js';
import { Metrics } from './metrics.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly storeUrl?: string;
  readonly host: string;
  readonly port: number;
  readonly tenant: string;
  readonly checkpointIntervalMs: number;
  readonly bodyLimit: number;
  readonly signatureWindowSeconds: number;
  readonly logLevel: string;
  readonly version: string;
  readonly clock?: Clock;
  /** Evidence formats accepted, with their trust anchors. */
  readonly verifiers: readonly EvidenceVerifier[];
  /** Raw evidence retention for re-appraisal, seconds. */
  readonly evidenceRetentionSeconds?: number;
  /** How long an instance not seen stays in the inventory, seconds (0: for ever). */
  readonly inventoryRetentionSeconds?: number;
  readonly tokenLifetimeSeconds?: number;
  readonly admission?: AdmissionLimits;
  /** How often the rollout driver evaluates gates and deadlines, seconds (0: never). */
  readonly driverIntervalSeconds?: number;
  /** The authorities signed requests must name (`--authority`); absent: any. */
  readonly authorities?: readonly string[];
}

export interface RunningServer {
  readonly url: string;
  readonly dataDir: string;
  readonly store: Store;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Creates the tenant on first start (through the spine, as `system:bootstrap`) with the
 * ids of the key broker's keys, or checks that this data directory's log key is the one
 * the tenant was created with and its key broker keys the ones recorded (recording them
 * for a tenant created before they were).
 */
async function ensureTenant(cp: ControlPlane, dataDir: string, tenant: string, brokerKeys: KeyBrokerKeyIds): Promise<void> {
  const key = cp.logKey(tenant);
  const row = await cp.store.db.selectFrom('tenants').select(['log_vkey']).where('id', '=', tenant).executeTakeFirst();
  if (row) {
    if (row.log_vkey !== key.vkey) {
      throw new CovenantError('conflict', `the log key in ${dataDir} is not the one tenant ${tenant} was created with (${row.log_vkey})`);
    }
    await cp.execute(tenant, recordKeyIds(brokerKeys, dataDir));
    return;
  }
  const admins = await loadBootstrapAdmins(dataDir, tenant);
  const create = createTenant({ origin: key.origin, logVkey: key.vkey }, admins);
  try {
    await cp.execute(tenant, async (tx, ctx) => {
      const created = await create(tx, ctx);
      return { ...created, entries: [...created.entries, keysRecordedEntry(brokerKeys)] };
    });
  } catch (error) {
    // Another replica won the race to create it; its keys must then match ours.
    if (!(error instanceof CovenantError && error.type === 'conflict')) throw error;
    await ensureTenant(cp, dataDir, tenant, brokerKeys);
  }
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const keys = await loadTenantKeys(dataDir, options.tenant);
  const store = await openStore({ dataDir, ...(options.storeUrl ? { storeUrl: options.storeUrl } : {}) });
  const clock = options.clock ?? systemClock;
  const metrics = new Metrics();
  const timers: NodeJS.Timeout[] = [];
  try {
    const cp = new ControlPlane({
      store,
      clock,
      logKey: (tenant) => {
        if (tenant !== options.tenant) throw new CovenantError('not-found', `no tenant named ${tenant}`);
        return keys.log;
      },
      onBatch: metrics.onBatch,
    });
    // A recorded key is never replaced by a new file: see loadKeyBrokerKeys.
    const brokerKeys = await loadKeyBrokerKeys(dataDir, options.tenant, await recordedKeyIds(store.db, options.tenant));
    const kms = new FileKms(brokerKeys.kek);
    await ensureTenant(cp, dataDir, options.tenant, { kek: kms.keyId, sealing: sealingMasterId(brokerKeys.sealing) });
    // Who may act and what is accepted must be the ledger's, not rows edited while stopped.
    await requireTrustBaseMatchesLedger(store.db, options.tenant);
    const material = new VerificationMaterial(store, options.tenant, clock);
    // Online rotations live in the shared store, so every replica signs with the same key.
    const tokenKeys = await TokenKeyRing.open({
      store,
      tenant: options.tenant,
      clock,
      kms,
      first: keys.token,
      settled: keys.retiredTokens,
      ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
    });
    const attestationOptions = {
      cp,
      tenant: options.tenant,
      tokenKey: tokenKeys,
      build: options.version,
      material,
      ...(options.evidenceRetentionSeconds === undefined ? {} : { retentionSeconds: options.evidenceRetentionSeconds }),
      ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
    };
    const keyBroker = new KeyBroker({
      cp,
      tenant: options.tenant,
      kms,
      sealingMaster: brokerKeys.sealing,
      sessionKey: keys.session,
      verifiers: options.verifiers,
      // The same verifier settings as the attestation API's, with the KBS evidence adapter.
      attestationFor: (verifier, sessionKey) => new AttestationService({ ...attestationOptions, sessionKey, verifiers: [verifier] }),
    });
    const app = await buildServer({
      cp,
      tenant: options.tenant,
      metrics,
      bodyLimit: options.bodyLimit,
      signatureWindowSeconds: options.signatureWindowSeconds,
      logger: { level: options.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
      version: options.version,
      tokenKeys,
      admission: options.admission ?? DEFAULT_ADMISSION,
      ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
      attestation: new AttestationService({ ...attestationOptions, sessionKey: keys.session, verifiers: options.verifiers }),
      keyBroker,
      material,
      ...(options.authorities === undefined ? {} : { authorities: options.authorities }),
    });
    const address = await app.listen({ host: options.host, port: options.port });
    const background = (task: () => Promise<unknown>, every: number): void => {
      const timer = setInterval(() => {
        task().catch((error: unknown) => app.log.error({ err: error }, 'background task failed'));
      }, every);
      timer.unref();
      timers.push(timer);
    };
    if (options.checkpointIntervalMs > 0) {
      await cp.checkpointer.checkpoint(options.tenant);
      background(() => cp.checkpointer.checkpoint(options.tenant), options.checkpointIntervalMs);
    }
    const driverEvery = options.driverIntervalSeconds ?? DEFAULT_DRIVER_INTERVAL_SECONDS;
    if (driverEvery > 0) {
      const driver = new RolloutDriver(cp, options.tenant);
      background(async () => {
        for (const report of await driver.tick()) app.log.info({ rollout: report }, 'rollout driver acted');
      }, driverEvery * 1000);
    }
    background(() => pruneNonces(store, clock()), 60_000);
    const inventoryRetention = options.inventoryRetentionSeconds ?? DEFAULT_INVENTORY_RETENTION_SECONDS;
    background(async () => {
      if (inventoryRetention > 0) await cp.execute(options.tenant, pruneInventory(inventoryRetention));
      await pruneAttestationState(store, clock());
    }, 60_000);
    return {
      url: address,
      dataDir,
      store,
      app,
      async close() {
        for (const timer of timers) clearInterval(timer);
        await app.close();
        await store.close();
      },
    };
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    await store.close().catch(() => {});
    throw error;
  }
}
