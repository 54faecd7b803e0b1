// Agent credentials: a random password shown once, stored only as a scrypt hash
// with a random salt (RFC 7914). Verification uses timingSafeEqual.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ArgumentError } from '../../shared/errors.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import type { Store } from '../store/store.js';

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** N = 2^14, r = 8, p = 1: ~16 MiB and tens of ms per check, only paid at MQTT connect. */
const SCRYPT: ScryptOptions = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function derive(password: string | Buffer, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<{ hash: Buffer; salt: Buffer }> {
  const salt = randomBytes(SALT_BYTES);
  return { hash: await derive(password, salt), salt };
}

export async function verifyPassword(password: string | Buffer, hash: Buffer, salt: Buffer): Promise<boolean> {
  const key = await derive(password, salt);
  return key.length === hash.length && timingSafeEqual(key, hash);
}

/** 24 random bytes, base64url: 192 bits, safe in YAML and on a command line. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

function checkId(id: string): void {
  if (!AGENT_ID_RE.test(id)) throw new ArgumentError(`agent id "${id}" must match [a-z0-9][a-z0-9-]{0,62}`);
}

/** Creates (or replaces) an agent's credentials; returns the password, which is not stored. */
export async function addAgent(store: Store, id: string): Promise<string> {
  checkId(id);
  const password = generatePassword();
  const { hash, salt } = await hashPassword(password);
  store.setCredentials(id, hash, salt);
  return password;
}

export function removeAgent(store: Store, id: string): boolean {
  checkId(id);
  return store.removeAgent(id);
}

/** Checks an agent's password against the DB (read each time, so new agents work at once). */
export async function checkAgentPassword(store: Store, id: string, password: Buffer | string | undefined): Promise<boolean> {
  if (!AGENT_ID_RE.test(id) || password === undefined) return false;
  const cred = store.getCredentials(id);
  if (!cred) {
    // Spend the same work for unknown ids so timing does not reveal enrolment.
    await derive(password, randomBytes(SALT_BYTES));
    return false;
  }
  return verifyPassword(password, cred.hash, cred.salt);
}
