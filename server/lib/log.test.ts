import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { componentLogger, configureLogging, errorFields, logger, redactLine, resetLogging, setLogLevel } from './log.js';
import { createRedactor } from './redaction.js';

const TOKEN = `mc_${'A1b2C3d4E5'.repeat(4)}xyz`;
const KEY = '/srv/mission-control/keys/id_ed25519';
const PASSWORD_FILE = `${homedir()}/.config/mc/hpc.password`;
const SMTP_PASSWORD = 'correct "horse" battery';

describe('log', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    configureLogging({
      destination: { write: (line) => lines.push(line) },
      redactPaths: createRedactor(() => [{ identityFile: KEY, passwordFile: PASSWORD_FILE }]),
      secretValues: () => [SMTP_PASSWORD],
    });
    setLogLevel('debug');
  });
  afterEach(() => resetLogging());

  it('writes one JSON line per entry with the component, level name and fields', () => {
    componentLogger('poller').child({ cluster: 'hpc' }).info({ durationMs: 12 }, 'polled');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ level: 'info', component: 'poller', cluster: 'hpc', durationMs: 12, msg: 'polled' });
    expect(typeof entry.time).toBe('string');
  });

  it('keeps tokens, secret file paths and secret values out of messages, fields, errors and stacks', () => {
    const log = componentLogger('ssh');
    log.warn(`login with ${KEY} failed for ${TOKEN}`);
    log.info({ detail: `read ~/.config/mc/hpc.password`, header: `Bearer ${TOKEN}` }, 'fields');
    log.error(errorFields(new Error(`smtp said: auth ${SMTP_PASSWORD} refused; key ${KEY}`)), 'send failed');
    log.info({ password: 'hunter2!', smtp: { pass: 'hunter3!' }, headers: { authorization: 'Basic abc' } }, 'named secrets');
    const text = lines.join('');
    for (const secret of [TOKEN, KEY, PASSWORD_FILE, '~/.config/mc/hpc.password', 'correct', 'hunter2', 'hunter3', 'Basic abc']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('<identityFile>');
    expect(text).toContain('<passwordFile>');
    expect(text).toContain('<token>');
    expect(text).toContain('<secret>');
    // Every line is still JSON after the replacements.
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('redacts a token even before the server configured its secret paths', () => {
    resetLogging();
    expect(redactLine(`{"msg":"${TOKEN}"}`)).toBe('{"msg":"<token>"}');
  });

  it('follows a level set after components took their loggers', () => {
    const log = componentLogger('jobs');
    log.debug('shown');
    setLogLevel('warn');
    log.info('hidden');
    log.child({ jobId: 7 }).debug('hidden too');
    log.warn('shown too');
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['shown', 'shown too']);
    expect(logger.level).toBe('warn');
  });

  it("takes the config's level, except inside a test suite, where it stays quiet", () => {
    const vitest = process.env.VITEST;
    try {
      configureLogging({ level: 'error' });
      expect(logger.level).toBe('debug');
      delete process.env.VITEST;
      configureLogging({ level: 'error' });
      expect(logger.level).toBe('error');
      expect(componentLogger('poller').level).toBe('error');
    } finally {
      process.env.VITEST = vitest;
    }
  });

  it('starts at MC_LOG_LEVEL when the process has it, and loads no pretty-printer when stdout is no terminal', () => {
    const script = "import('./server/lib/log.ts').then(({ logger }) => process.stdout.write(`${logger.level} ${Object.keys(require.cache).some((path) => path.includes('pino-pretty'))}`))";
    const env: NodeJS.ProcessEnv = { ...process.env, MC_LOG_LEVEL: 'debug' };
    delete env.VITEST;
    expect(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: join(import.meta.dirname, '..', '..'), env, encoding: 'utf8' })).toBe('debug false');
  });

  it('lets MC_LOG_LEVEL win over the configured level', () => {
    process.env.MC_LOG_LEVEL = 'error';
    try {
      configureLogging({ level: 'debug' });
      componentLogger('http').warn('hidden');
      expect(lines).toEqual([]);
    } finally {
      delete process.env.MC_LOG_LEVEL;
    }
  });
});
