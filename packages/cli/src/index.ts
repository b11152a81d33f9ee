export type { CheckStatus, DoctorCheck, DoctorReport } from './check.js';
export { type DoctorOptions, doctor, formatReport } from './doctor.js';
export { formatTtlAudit, type TtlAuditOptions, type TtlAuditReport, ttlAudit } from './ttl-audit.js';
export {
  loadWarmModule,
  type WarmEntry,
  type WarmModule,
  type WarmOptions,
  type WarmReport,
  warm,
} from './warm.js';
