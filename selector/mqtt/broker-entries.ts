// Broker-side entries for enrolling an agent on an external broker, so
// `vantage-selector agents add ID --broker mosquitto|nats` enrols it in one step:
// - mosquitto: a password-file line in mosquitto_passwd's format ($7$: PBKDF2-SHA512,
//   101 iterations, 12-byte salt — what mosquitto_passwd 2.x writes); the shipped ACL
//   (systemd/mosquitto.acl) already confines every user to its own agent topics;
// - nats: a user block for the `authorization { users: [...] }` list of
//   systemd/nats-vantage.conf, with the same rights as the Mosquitto ACL in NATS
//   subjects (MQTT `a/b/#` is NATS `a.b` and `a.b.>`), plus `$MQTT.sub.>`, where
//   NATS delivers QoS 1 subscriptions. NATS 2.9 reads bcrypt or plain passwords; the
//   block carries the plain one, so the file must stay readable by root/nats only.
import { pbkdf2Sync, randomBytes } from 'node:crypto';

export const BROKER_KINDS = ['mosquitto', 'nats'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

const MOSQUITTO_ITERATIONS = 101;

/** `id:$7$101$salt$hash`, as `mosquitto_passwd -b FILE id PASSWORD` would write it. */
export function mosquittoPasswdLine(id: string, password: string, salt: Buffer = randomBytes(12)): string {
  const hash = pbkdf2Sync(password, salt, MOSQUITTO_ITERATIONS, 64, 'sha512');
  return `${id}:$7$${MOSQUITTO_ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** NATS subjects an agent may publish to / subscribe to (the Mosquitto ACL's `pattern` lines). */
export function natsAgentPermissions(id: string): { publish: string[]; subscribe: string[] } {
  return { publish: [`vantage.v1.agents.${id}.>`], subscribe: ['vantage.v1.config', 'vantage.v1.config.>', '$MQTT.sub.>'] };
}

/** The selector's rights (the Mosquitto ACL's `user vantage-selector` block). */
export function natsSelectorPermissions(): { publish: string[]; subscribe: string[] } {
  return { publish: ['vantage.v1.>'], subscribe: ['vantage.v1.>', '$MQTT.sub.>'] };
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: string[]): string => `[${xs.map(q).join(', ')}]`;

/** One entry of `authorization { users: [...] }`, usable through MQTT only. */
export function natsUserBlock(user: string, password: string, perms: { publish: string[]; subscribe: string[] }): string {
  return `{ user: ${q(user)}, password: ${q(password)}, allowed_connection_types: ["MQTT"], permissions: { publish: ${list(perms.publish)}, subscribe: ${list(perms.subscribe)} } }`;
}

/** What to add to the broker for agent `id` with `password`, and where. */
export function brokerEntry(kind: BrokerKind, id: string, password: string): { kind: BrokerKind; entry: string; hint: string } {
  if (kind === 'mosquitto') {
    return {
      kind, entry: mosquittoPasswdLine(id, password),
      hint: 'append to the password_file (e.g. /etc/mosquitto/vantage.passwd), then reload Mosquitto (SIGHUP); systemd/mosquitto.acl already covers the agent',
    };
  }
  return {
    kind, entry: natsUserBlock(id, password, natsAgentPermissions(id)),
    hint: 'add to authorization.users of every node (systemd/nats-vantage.conf), then reload them (nats-server --signal reload)',
  };
}
