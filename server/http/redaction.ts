// Paths of the files that hold SSH keys, passwords and host keys on this machine never leave the server. They reach
// messages from below (ssh's stderr, a failed read, the re-login command an openssh cluster shows), so they are
// replaced (server/lib/redaction.ts) at the one door every GraphQL answer goes through: a plugin on execute and
// subscribe results, for HTTP, SSE and WebSocket alike.
import type { ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import type { Redact } from '../lib/redaction.js';

/** A copy of the value with every string redacted; the same reference when nothing changed (results may share objects). */
function redactDeep(value: unknown, redact: Redact): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) {
    const items = value.map((item) => redactDeep(item, redact));
    return items.some((item, index) => item !== value[index]) ? items : value;
  }
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value).map(([key, item]) => [key, redactDeep(item, redact)] as const);
    return entries.some(([key, item]) => item !== (value as Record<string, unknown>)[key]) ? Object.fromEntries(entries) : value;
  }
  return value;
}

function redactResult(result: ExecutionResult, redact: Redact): ExecutionResult {
  for (const error of result.errors ?? []) error.message = redact(error.message);
  const data = redactDeep(result.data, redact) as ExecutionResult['data'];
  return data === result.data ? result : { ...result, data };
}

export function useRedaction(redact: Redact): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone: (payload) =>
          handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            setResult(redactResult(result, redact));
          }),
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult: (payload) =>
          handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            setResult(redactResult(result, redact));
          }),
      };
    },
  };
}
