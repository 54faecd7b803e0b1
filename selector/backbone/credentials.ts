// LB credentials on a backbone (`vantage-selector lbs add ID`): like an agent's — a random
// password shown once, stored as a scrypt hash — in their own table, so an LB id never
// collides with an agent id. An LB logs in to the backbone's broker as `lb.{id}` ('.' is
// not allowed in an agent id, and unlike ':' it is allowed in a Mosquitto password file).
import { randomBytes } from 'node:crypto';
import { ArgumentError } from '../../shared/errors.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { generatePassword, hashPassword, verifyPassword } from '../mqtt/credentials.js';
import type { Store } from '../store/store.js';

export const LB_USER_PREFIX = 'lb.';
const TABLE_SQL = 'CREATE TABLE IF NOT EXISTS lb_credentials (id TEXT PRIMARY KEY, pass_hash BLOB NOT NULL, pass_salt BLOB NOT NULL, created INTEGER NOT NULL)';

function checkId(id: string): void {
  if (!AGENT_ID_RE.test(id)) throw new ArgumentError(`lb id "${id}" must match [a-z0-9][a-z0-9-]{0,62}`);
}

/** Creates (or replaces) an LB's credentials; returns the password, which is not stored. */
export async function addLb(store: Store, id: string): Promise<string> {
  checkId(id);
  store.db.exec(TABLE_SQL);
  const password = generatePassword();
  const { hash, salt } = await hashPassword(password);
  store.db.prepare(`INSERT INTO lb_credentials (id, pass_hash, pass_salt, created) VALUES (?, ?, ?, ?)
    ON CONFLICT(id) DO UPDATE SET pass_hash = excluded.pass_hash, pass_salt = excluded.pass_salt`).run(id, hash, salt, Date.now());
  return password;
}

export function removeLb(store: Store, id: string): boolean {
  checkId(id);
  store.db.exec(TABLE_SQL);
  return store.db.prepare('DELETE FROM lb_credentials WHERE id = ?').run(id).changes > 0;
}

/** Checks `lb.{id}`'s password (read each time: a new LB works at once). */
export async function checkLbPassword(store: Store, id: string, password: Buffer | string | undefined): Promise<boolean> {
  if (!AGENT_ID_RE.test(id) || password === undefined) return false;
  store.db.exec(TABLE_SQL);
  const row = store.db.prepare('SELECT pass_hash, pass_salt FROM lb_credentials WHERE id = ?').get(id) as { pass_hash: Buffer; pass_salt: Buffer } | undefined;
  // Unknown ids cost the same work, so timing does not reveal enrolment.
  if (!row) return verifyPassword(password, randomBytes(32), randomBytes(16)).then(() => false);
  return verifyPassword(password, row.pass_hash, row.pass_salt);
}
