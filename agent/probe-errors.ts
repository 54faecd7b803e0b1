// Maps a failed probe to the v1 error class. The raw socket error (recorded by the
// probe's own connector) is preferred over undici's wrapper, which may hide it
// (`SocketError: other side closed`, `ClientDestroyedError`...).
import type { ErrorClass } from '../shared/protocol.js';

export interface FailureContext {
  /** The probe's own deadline (or the caller's abort) fired. */
  timedOut: boolean;
  headersReceived: boolean;
  declaredLength?: number;
  bytes: number;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN', 'ENETDOWN']);
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'HOSTNAME_MISMATCH', 'EPROTO',
]);

export function isResetCode(code: string | undefined): boolean {
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function isTlsCode(code: string): boolean {
  return TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_');
}

function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

export function classifyError(err: unknown, socketError: NodeJS.ErrnoException | undefined, ctx: FailureContext): ErrorClass {
  if (ctx.timedOut) return 'timeout';
  const codes = [...(socketError?.code ? [socketError.code] : []), ...codesOf(err)];
  for (const code of codes) {
    if (code === 'ECONNREFUSED') return 'refused';
    if (UNREACHABLE_CODES.has(code)) return 'unreachable';
    if (isTlsCode(code)) return 'tls';
    if (isResetCode(code)) return 'reset';
  }
  if (ctx.declaredLength !== undefined && ctx.headersReceived && ctx.bytes < ctx.declaredLength) return 'truncated';
  for (const code of codes) {
    if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'truncated';
    if (TIMEOUT_CODES.has(code)) return 'timeout';
    // The peer closed the connection (FIN) before the response was complete.
    if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return 'reset';
  }
  return 'other';
}
