// Agent credentials: a random password shown once, stored only as a scrypt hash
// with a random salt (RFC 7914). Verification uses timingSafeEqual. The running
// selector keeps the enrolled agents in memory (Enrolment): the broker's connect
// check and ingest's per-message check never read SQLite; the admin API's
// `agents add/remove` update memory and the DB together.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ArgumentError } from '../../shared/errors.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import type { Credentials, Store } from '../store/store.js';

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

/** Checks an agent's password against the DB (CLI and tests; the daemon uses Enrolment). */
export async function checkAgentPassword(store: Store, id: string, password: Buffer | string | undefined): Promise<boolean> {
  return checkAgainst(AGENT_ID_RE.test(id) ? store.getCredentials(id) : undefined, id, password);
}

async function checkAgainst(cred: Credentials | undefined, id: string, password: Buffer | string | undefined): Promise<boolean> {
  if (!AGENT_ID_RE.test(id) || password === undefined) return false;
  if (!cred) {
    // Spend the same work for unknown ids so timing does not reveal enrolment.
    await derive(password, randomBytes(SALT_BYTES));
    return false;
  }
  return verifyPassword(password, cred.hash, cred.salt);
}

/** The enrolled agents of the running selector: loaded once, then kept in step with the DB. */
export class Enrolment {
  private readonly creds = new Map<string, Credentials>();

  constructor(private readonly store: Store) {
    for (const c of store.listCredentials()) this.creds.set(c.id, { hash: c.hash, salt: c.salt });
  }

  has(id: string): boolean {
    return this.creds.has(id);
  }

  get size(): number {
    return this.creds.size;
  }

  /** Enrols (or re-keys) an agent; returns the password, which is not stored. */
  async add(id: string): Promise<string> {
    checkId(id);
    const password = generatePassword();
    const { hash, salt } = await hashPassword(password);
    this.store.setCredentials(id, hash, salt);
    this.creds.set(id, { hash, salt });
    return password;
  }

  /** Deletes the agent's row, credentials and prefixes; false when the DB did not know it. */
  remove(id: string): boolean {
    checkId(id);
    const removed = this.store.removeAgent(id);
    this.creds.delete(id);
    return removed;
  }

  check(id: string, password: Buffer | string | undefined): Promise<boolean> {
    return checkAgainst(this.creds.get(id), id, password);
  }
}
