import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
import type { Projector } from '../ledger/committer.js';
import type { Tx } from '../store/store.js';
import { ATTESTATION_VERDICT, type AttestationVerdict } from '../verifier/verdict.js';

/**
 * Single use of attestation sessions, not left to the spent-session table alone. The
 * table is what a verdict reads, but a row deleted from it would let the session's
 * nonce be used again while the session lives (60 s by default). So this process also
 * remembers which ledger entry spent each live session it committed, and before a
 * verdict spends a session again it looks that entry up by primary key: if the ledger
 * holds it and it names the session, the session is spent whatever the table says.
 * The memory is a hint confirmed by the ledger, never trusted alone: an entry of a
 * batch that rolled back does not exist, so a retried verdict is not refused.
 *
 * Cost: one primary-key read per verdict for a session seen before (only a replay), and
 * a bounded memory (a session outlives its entry here only by the LRU cap, far above
 * the verdicts of one session lifetime). Scope: the process that committed the first
 * verdict. With several replicas on one PostgreSQL database, a replay sent to another
 * replica within the session's lifetime is refused only by the table.
 */
export class SpentSessions {
  readonly #spentBy = new LruCache<string, number>(100_000);

  /** Wraps the ledger's projector: refuses a second verdict on one session, remembers the first. */
  guard(project: Projector): Projector {
    return (tx, entry) => {
      if (entry.type !== ATTESTATION_VERDICT) return project(tx, entry);
      return this.#spend(tx, entry.tenant, entry.seq, entry.payload as AttestationVerdict, () => project(tx, entry));
    };
  }

  async #spend(tx: Tx, tenant: string, seq: number, verdict: AttestationVerdict, project: () => Promise<void> | undefined): Promise<void> {
    const key = `${tenant}\n${verdict.session}`;
    const earlier = this.#spentBy.get(key);
    if (earlier !== undefined && (await spentIn(tx, tenant, earlier, verdict.session))) {
      throw new CovenantError('conflict', `attestation session ${verdict.session} was already spent by ledger entry ${earlier}: nonces are single-use, start a new session`);
    }
    await project();
    this.#spentBy.set(key, seq);
  }
}

async function spentIn(tx: Tx, tenant: string, seq: number, session: string): Promise<boolean> {
  const row = await tx.selectFrom('ledger_entries').select(['type', 'body']).where('tenant', '=', tenant).where('seq', '=', seq).executeTakeFirst();
  if (row?.type !== ATTESTATION_VERDICT) return false;
  const entry = JSON.parse(Buffer.from(row.body).toString('utf8')) as { payload: AttestationVerdict };
  return entry.payload.session === session;
}
