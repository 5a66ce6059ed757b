export { simPlugin, SIM_WARNING } from './plugin.js';
export {
  SIM_MEDIA_TYPE,
  SIM_EVIDENCE_VERSION,
  SIM_REPORT_VERSION,
  MAX_EVIDENCE_BYTES,
  REPORT_DATA_BYTES,
  decodeEvidence,
  encodeEvidence,
  decodeReport,
  encodeReport,
  workloadSchema,
  type SimEvidence,
  type SimReport,
  type SimWorkload,
} from './format.js';
export { toPem, pemBlocks } from '../x509/pem.js';
