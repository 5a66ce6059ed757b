/**
 * The key broker with Intel DCAP evidence: Trustee's `sgx` and `tdx` attesters send
 * `{"quote": "<base64>"}` as primary evidence, the quote's report data binding the KBS
 * runtime data. Synthetic quotes (test/evidence/dcap/synthetic.ts) under their own Intel-
 * shaped PKI, with collateral imported through the API as an operator would.
 */
import { expect, it } from 'vitest';
import { sgxPlugin, tdxPlugin } from '../../src/evidence/dcap/index.js';
import { KbsClient, KbsRefused, type RcarTee } from '../../src/sdk/kbs-client.js';
import { ENCLAVE, NOW, TD, world } from '../evidence/dcap/synthetic.js';
import { describeEachBackend } from '../store/backends.js';
import { kbsInject, putSecret, setRule, useBrokerServer, type BrokerServer } from './support.js';

const TEES = ['sgx', 'tdx'] as const;
type DcapTee = (typeof TEES)[number];
const worlds = { sgx: await world('sgx'), tdx: await world('tdx') };
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const workloadOf = (tee: DcapTee): string => `kbs/${tee}`;
const resourceOf = (tee: DcapTee): string => `default/${tee}/key`;

/** A TEE whose quote carries `reportData(asked)` as its report data: the asked value, unless a test says otherwise. */
function dcapTee(tee: DcapTee, reportData = (asked: Uint8Array): Uint8Array => asked): RcarTee {
  return {
    tee,
    evidence: async (asked) => {
      const fields = { reportData: reportData(asked) };
      return { quote: b64(worlds[tee].quote(tee === 'sgx' ? { enclave: fields } : { td: fields })) };
    },
  };
}

describeEachBackend('the key broker with Intel DCAP quotes', (backend) => {
  const fixture = useBrokerServer(backend, {
    verifiers: [
      { plugin: sgxPlugin, trustAnchors: [worlds.sgx.pki.root.der] },
      { plugin: tdxPlugin, trustAnchors: [worlds.tdx.pki.root.der] },
    ],
  });

  /** At the synthetic PKI's time: the workload and its release, the collateral, one secret and its rule. */
  async function seed(server: BrokerServer, tee: DcapTee): Promise<void> {
    server.clock.set(NOW);
    const workload = encodeURIComponent(workloadOf(tee));
    const release = tee === 'sgx' ? { class: 'sgx', measurements: [`sha256:${hex(ENCLAVE.mrEnclave)}`], securityVersion: ENCLAVE.isvSvn } : { class: 'tdx', measurements: [`sha384:${hex(TD.mrTd)}`] };
    for (const [url, body] of [
      ['/v1/workloads', { name: workloadOf(tee) }],
      [`/v1/workloads/${workload}/releases`, { version: '1.0.0', ...release }],
      [`/v1/workloads/${workload}/policy`, { accept: ['1.0.0'], reason: 'first release' }],
      ['/v1/collateral', { collateral: b64(worlds[tee].collateral()) }],
    ] as const) {
      const res = await server.signed('POST', url, body);
      expect(res.statusCode, res.body).toBe(201);
    }
    await putSecret(server, resourceOf(tee), `${tee} secret`);
    await setRule(server, resourceOf(tee), { name: 'all', workloads: [workloadOf(tee)] });
  }

  const client = (server: BrokerServer, tee: RcarTee, workload: string) => new KbsClient({ server: 'http://covenant.test', workload, tee, transport: kbsInject(server.app) });

  for (const tee of TEES) {
    it(`releases a secret to a ${tee} quote that binds the KBS runtime data`, async () => {
      const server = fixture();
      await seed(server, tee);
      expect(Buffer.from(await client(server, dcapTee(tee), workloadOf(tee)).getResource(resourceOf(tee))).toString()).toBe(`${tee} secret`);
    });

    it(`refuses a ${tee} quote over other report data, and one that is not base64`, async () => {
      const server = fixture();
      await seed(server, tee);
      const unbound = client(server, dcapTee(tee, () => new Uint8Array(64)), workloadOf(tee)).getResource(resourceOf(tee));
      await expect(unbound).rejects.toThrow(KbsRefused);
      await expect(unbound).rejects.toThrow(/does not bind the KBS runtime data/);
      const garbled: RcarTee = { tee, evidence: async () => ({ quote: 'not base64!' }) };
      await expect(client(server, garbled, workloadOf(tee)).getResource(resourceOf(tee))).rejects.toThrow(/primary_evidence\.quote must be the quote in standard base64/);
    });
  }
});
