// bench:failover --trace: one timeline per round, in ms since the node was killed, of what
// the cluster and the clients logged — each nats-server node's log (leader elections, MQTT
// errors) and the info/warn logs of agent pop-0 and both replicas. This is how the causes
// in bench/README.md ("What the failover time is made of") were found.
import { pino, type Logger } from 'pino';

interface Event { t: number; who: string; text: string }

export interface FailoverTrace {
  /** Root logger for agents and selectors (silent when tracing is off). */
  log: Logger;
  /** A nats-server log line (NatsClusterOptions.onLog). */
  natsLine(node: string, line: string): void;
  /** Prints the events from `fromMs` on, relative to `t0`, and forgets them. */
  print(t0: number, fromMs: number): void;
}

const NATS_PREFIX = /^\[\d+\] \S+ \S+ /;
/** nats-server lines that say nothing about the failover. */
const NATS_NOISE = /Adding route|Route connection|route to|RTT|Error trying to connect to route|Catchup|Healthy/i;

export function createFailoverTrace(enabled: boolean, keep: (obj: Record<string, unknown>) => boolean): FailoverTrace {
  const events: Event[] = [];
  if (!enabled) return { log: pino({ level: 'silent' }), natsLine: () => undefined, print: () => undefined };
  const log = pino({ level: 'info' }, {
    write(line: string) {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (!keep(obj)) return;
      const { level: _l, time, pid: _p, hostname: _h, msg, component, replica, agent, ...rest } = obj;
      const who = String(replica ?? agent ?? '?') + (component ? `/${String(component)}` : '');
      const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
      events.push({ t: Number(time), who, text: `${String(msg)}${extra}` });
    },
  });
  return {
    log,
    natsLine(node, line) {
      const text = line.replace(NATS_PREFIX, '');
      if (text && !NATS_NOISE.test(text)) events.push({ t: Date.now(), who: node, text });
    },
    print(t0, fromMs) {
      const shown = events.filter((e) => e.t >= fromMs).sort((a, b) => a.t - b.t);
      for (const e of shown) console.log(`  ${String(e.t - t0).padStart(7)} ms  ${e.who.padEnd(18)} ${e.text.slice(0, 220)}`);
      events.length = 0;
    },
  };
}
