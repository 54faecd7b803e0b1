import { defineConfig } from 'vitest/config';

// The DNS server's tests run twice: with the default UDP engine (the native batch addon
// when built) and forced to node:dgram, so both paths stay covered.
const DNS_TESTS = ['test/dns/**/*.test.ts', 'test/reliability/dns-hostile.test.ts', 'test/reliability/tcp-abuse.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'udp-dgram', include: DNS_TESTS, env: { VANTAGE_TEST_UDP_ENGINE: 'dgram' } } },
    ],
  },
});
