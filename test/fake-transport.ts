// For fakes of a cluster that only answer commands: `stream` is part of every transport, and a fake without a long-
// running command says so when a live feature (the lifecycle watch, a live log) asks for one, instead of letting
// that feature switch itself off unnoticed.
import type { StreamingTransport } from '../server/ssh/transport.js';

export const refuseStream: StreamingTransport['stream'] = async (argv) => {
  throw new Error(`this fake cluster runs no long-running command (asked for: ${argv.slice(0, 3).join(' ')}…)`);
};
