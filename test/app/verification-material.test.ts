/**
 * The verifiers' view of imported collateral: by class, newest first and at most 16 per
 * class, re-read after an import on this replica at once and after another replica's
 * within 30 s, without what has expired.
 */
import { expect, it } from 'vitest';
import { VerificationMaterial, MAX_ITEMS_PER_CLASS } from '../../src/app/verification-material.js';
import { importCollateral } from '../../src/collateral/commands.js';
import { rootCa } from '../evidence/x509/pki.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';
import { createTestPlane, manualClock } from '../support/control-plane.js';

const START = new Date('2026-06-01T00:00:00Z');
const certificate = (name: string, notAfter = new Date('2030-01-01T00:00:00Z')) => rootCa(`CN=${name}`, { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter });

describeEachBackend('the verification material cache (collateral)', (backend) => {
  const instance = useFreshInstance(backend);

  it('offers the newest items per class, sees other replicas\' imports within 30 s, and drops expired ones', async () => {
    const clock = manualClock();
    clock.set(START);
    const plane = await createTestPlane(instance().store, clock);
    const imported = async (der: Uint8Array): Promise<void> => {
      await plane.cp.execute(plane.tenant, importCollateral(plane.admin.name, { collateral: Buffer.from(der).toString('base64') }));
      clock.advance(1000);
    };
    const cache = new VerificationMaterial(plane.cp.store, plane.tenant, clock);
    expect(await cache.forClass('sgx')).toEqual([]);

    const soon = await certificate('short-lived', new Date(START.getTime() + 3600_000));
    await imported(soon.der);
    // Imported elsewhere: not seen until the cache is told or 30 s have passed.
    expect(await cache.forClass('sgx')).toEqual([]);
    cache.invalidate();
    expect(await cache.forClass('sgx')).toEqual([soon.der]);
    expect(await cache.forClass('sim')).toEqual([]);
    // Past its validity it is no longer offered.
    clock.advance(3600_000);
    expect(await cache.forClass('sgx')).toEqual([]);

    const many = [];
    for (let i = 0; i < MAX_ITEMS_PER_CLASS + 1; i++) {
      const issued = await certificate(`root ${i}`);
      many.push(issued.der);
      await imported(issued.der);
    }
    clock.advance(30_000);
    expect(await cache.forClass('nitro')).toEqual(many.slice(1).reverse());
  });
});
