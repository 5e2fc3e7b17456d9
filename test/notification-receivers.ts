// Local stand-ins for the services notifications go to beyond Web Push: an HTTP receiver that takes ntfy's JSON
// publish and chat webhooks' posts as they would, and an SMTP server (smtp-server) that asks for a login and reads
// each mail's subject and bodies back. Real sockets and protocols; nothing of the sender vouches for the sender.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  text: string;
  /** `text` as JSON, or null. */
  json: any;
  at: number;
  status: number;
}

/** `accept` answers 200; a number answers that status; `hang` never answers. */
export type HttpReceiverMode = 'accept' | number | 'hang';

interface Waiting<T> {
  items: T[];
  waitFor(predicate?: (item: T) => boolean, timeoutMs?: number): Promise<T>;
}

function waitable<T>(items: T[], what: string): Waiting<T>['waitFor'] {
  return async (predicate = () => true, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = items.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} matched within ${timeoutMs} ms (got ${items.length})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
}

export interface HttpReceiver extends Waiting<ReceivedRequest> {
  /** http://127.0.0.1:<port> */
  url: string;
  setMode(mode: HttpReceiverMode): void;
  close(): Promise<void>;
}

export async function startHttpReceiver(mode: HttpReceiverMode = 'accept'): Promise<HttpReceiver> {
  const items: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        // Not JSON: kept as text.
      }
      const status = mode === 'accept' ? 200 : mode === 'hang' ? 0 : mode;
      items.push({ method: request.method!, path: request.url!, headers: request.headers, text, json, at: Date.now(), status });
      if (mode === 'hang') return;
      response.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{"id":"ok"}' : `{"error":"status ${status}"}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    items,
    waitFor: waitable(items, 'request'),
    setMode(next) {
      mode = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ReceivedMail {
  /** The user the sender logged in as. */
  user: string | undefined;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
  at: number;
}

export interface SmtpReceiver extends Waiting<ReceivedMail> {
  port: number;
  /** Logins refused (a wrong user or password). */
  refusedLogins: number;
  close(): Promise<void>;
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= and =?UTF-8?B?…?=), as nodemailer writes a subject that is not ASCII. */
function decodeWords(header: string): string {
  return header
    .replace(/(=\?[^?]+\?[QqBb]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, _charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    );
}

function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = [];
  const joined = text.replace(/=\r?\n/g, '');
  for (let index = 0; index < joined.length; index++) {
    if (joined[index] === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(index + 1, index + 3))) {
      bytes.push(parseInt(joined.slice(index + 1, index + 3), 16));
      index += 2;
    } else bytes.push(...Buffer.from(joined[index]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function headersOf(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** The decoded text of each part of a (possibly multipart) message, by content type. */
function partsOf(raw: string): Map<string, string> {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = headersOf(raw.slice(0, split));
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
  if (boundary) {
    const found = new Map<string, string>();
    for (const part of body.split(`--${boundary}`).slice(1, -1)) for (const [key, value] of partsOf(part.replace(/^\r?\n/, ''))) found.set(key, value);
    return found;
  }
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  const decoded = encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body;
  return new Map([[type.split(';')[0]!.trim(), decoded.replace(/\r\n/g, '\n')]]);
}

export async function startSmtpReceiver(login: { user: string; password: string }): Promise<SmtpReceiver> {
  const items: ReceivedMail[] = [];
  let refusedLogins = 0;
  const server = new SMTPServer({
    // Loopback only, so no TLS to test against: the sender's config says security: none, which it allows only here.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === login.user && auth.password === login.password) return callback(null, { user: auth.username });
      refusedLogins++;
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const headers = headersOf(raw.slice(0, raw.search(/\r?\n\r?\n/)));
        const parts = partsOf(raw);
        items.push({
          user: session.user as string | undefined,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((address) => address.address),
          subject: decodeWords(headers.get('subject') ?? ''),
          text: parts.get('text/plain') ?? '',
          html: parts.get('text/html') ?? '',
          raw,
          at: Date.now(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    items,
    get refusedLogins() {
      return refusedLogins;
    },
    waitFor: waitable(items, 'mail'),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
