/**
 * The fleet side of the attestation benchmark, in its own thread: on a two-core machine
 * the attesters get one core and the verifier the other, as separate machines would.
 * Each message `{ attestations }` runs one round and answers with its rate.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { SimAttester, type Transport } from '../src/sim/attester.js';
import { SimulatedTee } from '../src/sim/tee.js';
import { importPlatformIdentity, type PemPair } from '../src/sim/vendor.js';

export interface FleetConfig {
  readonly url: string;
  readonly workload: string;
  readonly measurement: string;
  readonly platform: PemPair;
  readonly instances: number;
  readonly inFlight: number;
}

/** undici with keep-alive, as a fleet's HTTP client would be. */
function undiciTransport(agent: Agent): Transport {
  return async ({ method, url, headers, body }) => {
    const response = await request(url, { method, headers, dispatcher: agent, ...(body === undefined ? {} : { body: Buffer.from(body) }) });
    const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
    return {
      status: response.statusCode,
      headers: { location: first(response.headers.location), 'retry-after': first(response.headers['retry-after']) },
      body: await response.body.text(),
    };
  };
}

const config = workerData as FleetConfig;
const agent = new Agent({ connections: config.inFlight, pipelining: 1 });
const tee = new SimulatedTee(importPlatformIdentity(config.platform), { measurement: config.measurement, svn: 1, debug: false, configDigests: {} });
const transport = undiciTransport(agent);
const fleet = Array.from({ length: config.instances }, () => new SimAttester({ server: config.url, workload: config.workload, tee, transport }));

async function round(attestations: number): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < attestations) {
      const result = await fleet[next++ % fleet.length]!.attest();
      if (result.appraisal.status !== 'affirming') throw new Error(`bench: attestation ${result.appraisal.status}`);
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: config.inFlight }, worker));
  return attestations / (Number(process.hrtime.bigint() - started) / 1e9);
}

parentPort!.on('message', (message: { attestations?: number; close?: true }) => {
  if (message.close) {
    void agent.close().then(() => parentPort!.close());
    return;
  }
  round(message.attestations ?? 0).then(
    (rate) => parentPort!.postMessage({ rate }),
    (error: unknown) => parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) }),
  );
});
