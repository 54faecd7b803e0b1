// The one error table: every class has a fixed name and a stable code from ErrorCodes;
// AdminError's code follows its HTTP status; CommandExit's follows its exit code.
import { describe, expect, it } from 'vitest';
import {
  AdminError, AdminStatusCodes, ArgumentError, CommandExit, ConfigError, ErrorCodes, ExitCode, PrefixError,
  ProtocolError, VantageError, isErrorCode, type AdminStatus,
} from '../../shared/errors.js';
import { decodeJson, parseMetrics } from '../../shared/protocol.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';

describe('error table', () => {
  it.each([
    [new ConfigError('dns.listen[0]', 'bad'), 'ConfigError', 'CFG_ERR_INVALID', 'dns.listen[0]: bad'],
    [new ArgumentError('--x: bad'), 'ArgumentError', 'ARG_ERR_INVALID', '--x: bad'],
    [new ProtocolError('json', 'malformed'), 'ProtocolError', 'PROTO_ERR_INVALID', 'malformed'],
    [new PrefixError('nope'), 'PrefixError', 'PREFIX_ERR_INVALID', 'nope'],
    [new AdminError(409, 'exists'), 'AdminError', 'ADMIN_ERR_CONFLICT', 'exists'],
    [new CommandExit(ExitCode.USAGE, 'usage'), 'CommandExit', 'ARG_ERR_INVALID', 'usage'],
  ])('%s has a fixed name and a code from the table', (err, name, code, message) => {
    expect(err).toBeInstanceOf(VantageError);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
    expect(ErrorCodes[err.code]).toMatch(/\S/);
  });

  it('AdminError: one distinct code per HTTP status, constructor (status, message) kept', () => {
    const statuses = Object.keys(AdminStatusCodes).map(Number) as AdminStatus[];
    expect(statuses).toEqual([400, 404, 405, 409, 413, 503]);
    const codes = statuses.map((s) => new AdminError(s, 'x').code);
    expect(new Set(codes).size).toBe(statuses.length);
    expect(codes).toEqual(['ADMIN_ERR_BAD_REQUEST', 'ADMIN_ERR_NOT_FOUND', 'ADMIN_ERR_METHOD', 'ADMIN_ERR_CONFLICT', 'ADMIN_ERR_TOO_LARGE', 'ADMIN_ERR_UNAVAILABLE']);
    const e = new AdminError(413, 'request body too large');
    expect([e.status, e.code]).toEqual([413, 'ADMIN_ERR_TOO_LARGE']);
  });

  it('CommandExit: exit code kept; default code by exit code; an explicit code and cause win', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new CommandExit(ExitCode.FAILURE, 'x')).toMatchObject({ exitCode: 1, code: 'CMD_ERR_FAILED' });
    expect(new CommandExit(ExitCode.USAGE, 'x')).toMatchObject({ exitCode: 2, code: 'ARG_ERR_INVALID' });
    const e = new CommandExit(ExitCode.FAILURE, 'x', { code: 'CMD_ERR_UNREACHABLE', cause });
    expect([e.exitCode, e.code, e.cause]).toEqual([1, 'CMD_ERR_UNREACHABLE', cause]);
  });

  it('isErrorCode accepts only codes of the table', () => {
    expect(isErrorCode('ADMIN_ERR_NOT_FOUND')).toBe(true);
    expect(isErrorCode('ADMIN_ERR')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(404)).toBe(false);
  });

  it('protocol rejections carry a typed reason label', () => {
    const reasons: string[] = [];
    for (const bad of ['x'.repeat(5 * 1024 * 1024), '{', '[]', '{"v":2}', '{"v":1}']) {
      try {
        parseMetrics(bad);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
        reasons.push((err as ProtocolError).reason);
      }
    }
    expect(reasons).toEqual(['oversize', 'json', 'json', 'version', 'schema']);
    expect(() => decodeJson('{"v":1}')).not.toThrow();
  });

  it('a programming error (answer for a service never set) is INTERNAL_ERR, not an argument error', () => {
    const table = new MemoryAnswerTable();
    let err: unknown;
    try {
      table.setAnswer('never-set.example.test', 'agent-a', []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VantageError);
    expect((err as VantageError).code).toBe('INTERNAL_ERR');
  });
});
