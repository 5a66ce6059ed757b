/** The workload side: clients a TEE instance uses to prove itself and get its secrets. */
export { fetchKbsTransport, KbsClient, KbsRefused, type KbsClientOptions, type KbsTransport, type RcarTee, type TeeKeyType } from './kbs-client.js';
export { simRcarTee } from './sim-tee.js';
