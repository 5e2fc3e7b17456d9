// The server's one log: pino, JSON lines on stdout (readable lines through pino-pretty when stdout is a terminal), one
// child per component. Every line passes one door before it is written, where API tokens, the configured secret files'
// paths (server/lib/redaction.ts) and secret values (an SMTP password, a webhook token) are replaced: a line is
// redacted whole, after serialization, so a secret in a message, a field, an error's message or its stack is caught
// alike. Fields whose names say they hold a secret (password, token, authorization…) are censored before that.
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import type { Redact } from './redaction.js';

export type { Logger } from 'pino';
export type LogLevel = Level | 'silent';

/** The components that log; each has one child logger (`component` field on every line). */
export type Component =
  | 'server'
  | 'http'
  | 'poller'
  | 'lifecycle'
  | 'ssh'
  | 'jobs'
  | 'sweeps'
  | 'metrics'
  | 'push'
  | 'usage'
  | 'mcp';

/** Where lines go: anything with write(line). Tests pass an array's push; production writes to fd 1. */
export interface LogDestination {
  write(line: string): unknown;
}

// Before the root logger is made: its level is read from the environment as the module loads.
const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// An API token anywhere in a line (server/access/tokens.ts: mc_ + 43 base64url characters); also a shorter mc_
// token-like run, so a truncated or mistyped token is not written either.
const TOKEN_IN_TEXT = /\bmc_[A-Za-z0-9_-]{16,}/g;

// Field names whose value is a secret whatever it holds, at the top level and one level down (pino's redact paths).
const SECRET_KEYS = ['password', 'pass', 'passphrase', 'token', 'secret', 'authorization', 'cookie', 'apiKey', 'accessToken'];
const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'headers["x-api-token"]',
];

interface State {
  destination: DestinationStream | LogDestination;
  redactPaths: Redact;
  secretValues: () => Iterable<string>;
}

const state: State = {
  destination: defaultDestination(),
  redactPaths: (text) => text,
  secretValues: () => [],
};

/** The line as written: tokens, secret file paths and secret values replaced. Exported for its test. */
export function redactLine(line: string): string {
  let redacted = line.replace(TOKEN_IN_TEXT, '<token>');
  redacted = state.redactPaths(redacted);
  for (const value of state.secretValues()) {
    // Values shorter than 4 characters would replace ordinary text; a config refuses none, so they are kept out here.
    if (value.length < 4) continue;
    redacted = redacted.replaceAll(value, '<secret>');
    // The line is JSON: a value with a quote or backslash appears escaped in it.
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) redacted = redacted.replaceAll(escaped, '<secret>');
  }
  return redacted;
}

// One stream the root logger keeps for its life; it forwards to whatever configureLogging last chose, so children
// made at import time write where the server decided at start.
const door: DestinationStream = {
  write(line: string) {
    state.destination.write(redactLine(line));
  },
};

/** The root logger. Components take `componentLogger(name)`; a job or cluster adds its ids with `.child({...})`. */
export const logger: Logger = pino(
  {
    level: initialLevel(),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '<redacted>' },
    formatters: { level: (label) => ({ level: label }) },
  },
  door,
);

const components = new Map<Component, Logger>();

/** The one logger of a component; a child of the root, following its level. */
export function componentLogger(component: Component): Logger {
  let child = components.get(component);
  if (!child) {
    child = logger.child({ component });
    components.set(component, child);
  }
  return child;
}

/** The least severe level written, for the root and every component (their children made later inherit it). */
export function setLogLevel(level: LogLevel): void {
  logger.level = level;
  for (const child of components.values()) child.level = level;
}

export interface LoggingOptions {
  /** `server.logLevel` from the config; the env MC_LOG_LEVEL wins over it. */
  level?: LogLevel;
  /** Where lines go (default: stdout, pretty when it is a terminal). */
  destination?: LogDestination;
  /** The configured secret files' paths (createRedactor over the clusters). */
  redactPaths?: Redact;
  /** Secret values to keep out of every line (read when a line is written, so a config reload is followed). */
  secretValues?: () => Iterable<string>;
}

/** Set at start (and again by a test); what is not given keeps its current setting. */
export function configureLogging(options: LoggingOptions): void {
  if (options.destination) state.destination = options.destination;
  if (options.redactPaths) state.redactPaths = options.redactPaths;
  if (options.secretValues) state.secretValues = options.secretValues;
  // A server started inside a test suite stays at the suite's level (warn) unless MC_LOG_LEVEL asks: its info lines
  // would be written between the test runner's own; a test that reads the log sets its level with captureLogs.
  const level = envLevel() ?? (process.env.VITEST ? undefined : options.level);
  if (level) setLogLevel(level);
}

/** Back to stdout, no path redaction beyond tokens, and the env's or default level (for tests that configured it). */
export function resetLogging(): void {
  state.destination = defaultDestination();
  state.redactPaths = (text) => text;
  state.secretValues = () => [];
  setLogLevel(initialLevel());
}

/**
 * For tests: the lines written from now on (redacted as written), at `level`, until stop() puts the previous
 * destination and level back.
 */
export function captureLogs(level: LogLevel = 'debug') {
  const before = { destination: state.destination, level: logger.level as LogLevel };
  const lines: string[] = [];
  state.destination = { write: (line: string) => lines.push(line) };
  setLogLevel(level);
  return {
    lines,
    entries: (): Array<Record<string, unknown>> => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    stop(): void {
      state.destination = before.destination;
      setLogLevel(before.level);
    },
  };
}

/** An error as a log field: its message and stack (pino's err serializer), under the key pino's serializer expects. */
export function errorFields(error: unknown): { err: unknown } {
  return { err: error instanceof Error ? error : new Error(String(error)) };
}

function envLevel(): LogLevel | undefined {
  const value = process.env.MC_LOG_LEVEL?.trim().toLowerCase();
  return value && LEVELS.includes(value) ? (value as LogLevel) : undefined;
}

function initialLevel(): LogLevel {
  // In a test suite the log would bury the runner's output: warn, unless MC_LOG_LEVEL asks.
  return envLevel() ?? (process.env.VITEST ? 'warn' : 'info');
}

function defaultDestination(): DestinationStream {
  if (process.stdout.isTTY && process.env.MC_LOG_FORMAT !== 'json') {
    // Loaded only for a terminal: a service under systemd or in a container never pays for it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
    return pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,component', singleLine: true, messageFormat: '{if component}{component}: {end}{msg}' });
  }
  return pino.destination({ fd: 1, sync: true });
}
