// `vantage-selector run --config FILE`: the daemon. SIGTERM/SIGINT close it cleanly.
import { Option, type Command } from 'commander';
import { createLogger } from '../../shared/log.js';
import { loadConfig } from './context.js';

export function registerRun(program: Command): void {
  program.command('run')
    .description('run the selector daemon (DNS, MQTT ingest, ranking)')
    .requiredOption('-c, --config <file>', 'selector.yaml')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async (opts: { config: string; logLevel?: string }) => {
      const config = loadConfig(opts.config, { 'log.level': opts.logLevel });
      const log = createLogger({ level: config.log.level, name: 'vantage-selector' });
      // Loaded here, not at the top: every other command (and --help) starts without the
      // daemon's modules (broker, DNS, ranking), about half of the CLI's start-up time.
      const { createSelector } = await import('../selector.js');
      const selector = createSelector(config, { log });
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        selector.close().then(() => process.exit(0), (err: unknown) => {
          log.error({ err }, 'close failed');
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        await selector.start();
      } catch (err) {
        await selector.close().catch(() => undefined);
        throw err;
      }
    });
}
