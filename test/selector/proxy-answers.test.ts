// ProxyAnswers over the real answer table: which agent answers become proxy addresses.
import { describe, expect, it } from 'vitest';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { ProxyAnswers } from '../../selector/ranking/proxy-answers.js';

const SVC = 'www.example.test';
const SITES = ['127.2.0.1', '127.2.0.2', '2001:db8::1'];

function setup(): { table: MemoryAnswerTable; answers: ProxyAnswers } {
  const table = new MemoryAnswerTable();
  const answers = new ProxyAnswers(table, new Set([SVC]));
  answers.setService(SVC, 10);
  answers.setService('plain.example.test', 30);
  answers.setAnswer(SVC, 'pop-a', SITES);
  answers.setAnswer(SVC, DEFAULT_KEY, SITES);
  answers.setAnswer('plain.example.test', 'pop-a', SITES);
  return { table, answers };
}

describe('ProxyAnswers', () => {
  const cases: [string, (a: ProxyAnswers) => void, string[]][] = [
    ['no announce: sites', () => undefined, SITES],
    ['announced, no status yet: sites', (a) => a.setAnnounce('pop-a', { addresses: ['127.3.0.10'], services: [SVC] }), SITES],
    ['announced and healthy: proxy v4 + sites v6 (no NODATA for AAAA)', (a) => {
      a.setAnnounce('pop-a', { addresses: ['127.3.0.10'], services: [SVC] });
      a.setStatus('pop-a', 'online', { healthy: true, down: [] });
    }, ['127.3.0.10', '2001:db8::1']],
    ['healthy but the service is down at the proxy: sites', (a) => {
      a.setAnnounce('pop-a', { addresses: ['127.3.0.10'], services: [SVC] });
      a.setStatus('pop-a', 'online', { healthy: true, down: [SVC] });
    }, SITES],
    ['unhealthy: sites', (a) => {
      a.setAnnounce('pop-a', { addresses: ['127.3.0.10'], services: [SVC] });
      a.setStatus('pop-a', 'online', { healthy: false, down: [] });
    }, SITES],
    ['proxy does not serve the service: sites', (a) => {
      a.setAnnounce('pop-a', { addresses: ['127.3.0.10'], services: ['other.example.test'] });
      a.setStatus('pop-a', 'online', { healthy: true, down: [] });
    }, SITES],
    ['offline status after healthy: sites', (a) => {
      a.setAnnounce('pop-a', { addresses: ['127.3.0.10', '::1'], services: [SVC] });
      a.setStatus('pop-a', 'online', { healthy: true, down: [] });
      a.setStatus('pop-a', 'offline', undefined);
    }, SITES],
    ['dual-stack proxy: only proxy addresses', (a) => {
      a.setAnnounce('pop-a', { addresses: ['127.3.0.10', '::1'], services: [SVC] });
      a.setStatus('pop-a', 'online', { healthy: true, down: [] });
    }, ['127.3.0.10', '::1']],
  ];
  for (const [name, act, want] of cases) {
    it(name, () => {
      const { table, answers } = setup();
      act(answers);
      expect(table.getAnswer(SVC, 'pop-a')?.addresses).toEqual(want);
      expect(table.getAnswer(SVC, DEFAULT_KEY)?.addresses).toEqual(SITES);
      expect(table.getAnswer('plain.example.test', 'pop-a')?.addresses).toEqual(SITES);
    });
  }

  it('a new ranking keeps the proxy answer; losing health restores the latest ranking', () => {
    const { table, answers } = setup();
    answers.setAnnounce('pop-a', { addresses: ['127.3.0.10'], services: [SVC] });
    answers.setStatus('pop-a', 'online', { healthy: true, down: [] });
    answers.setAnswer(SVC, 'pop-a', ['127.2.0.2', '127.2.0.1']);
    expect(table.getAnswer(SVC, 'pop-a')?.addresses).toEqual(['127.3.0.10']);
    answers.setStatus('pop-a', 'online', { healthy: false, down: [] });
    expect(table.getAnswer(SVC, 'pop-a')?.addresses).toEqual(['127.2.0.2', '127.2.0.1']);
    expect(answers.decision(SVC, 'pop-a')).toMatchObject({ answer: 'sites', reason: 'agent pop-a reports its proxy unhealthy' });
  });
});
