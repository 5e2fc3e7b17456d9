import { StringDecoder } from 'node:string_decoder';
import type { StreamOptions } from './transport.js';

/**
 * Hands a long-running command's output to its callbacks as text, for every transport alike. A decoder per stream
 * keeps multi-byte characters whole across chunks; a throwing callback must not take the server down from inside
 * a stream event, so it calls `stop` instead and the error is reported when the stream ends.
 */
export function createStreamDelivery(callbacks: Pick<StreamOptions, 'onStdout' | 'onStderr'>, stop: () => void) {
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  let error: Error | null = null;
  const deliver = (stream: 'stdout' | 'stderr', chunk: Buffer | null) => {
    const text = chunk ? decoders[stream].write(chunk) : decoders[stream].end();
    const callback = stream === 'stdout' ? callbacks.onStdout : callbacks.onStderr;
    if (!text || !callback || error) return;
    try {
      callback(text);
    } catch (thrown) {
      error = thrown as Error;
      stop();
    }
  };
  return {
    stdout: (chunk: Buffer) => deliver('stdout', chunk),
    stderr: (chunk: Buffer) => deliver('stderr', chunk),
    get error(): Error | null {
      return error;
    },
    /** Flushes what the decoders still hold; returns a callback's error, if one threw. */
    end(): Error | null {
      deliver('stdout', null);
      deliver('stderr', null);
      return error;
    },
  };
}
