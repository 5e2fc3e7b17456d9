// A stand-in for a browser's push service and the browser itself, for tests on a machine that cannot reach the real
// ones: a local HTTP endpoint holding a subscription's private key and auth secret. It checks each request's VAPID
// header (RFC 8292: signature, audience, expiry) and decrypts its payload (RFC 8291 over RFC 8188 aes128gcm) with
// node:crypto alone, so nothing of the sender's own library vouches for the sender.
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
}

export interface ReceivedPush {
  /** The decrypted payload as the service worker's `event.data.text()` would give it. */
  text: string;
  /** `text` parsed as JSON, or null when it is not JSON. */
  json: any;
  headers: IncomingHttpHeaders;
  /** The server's VAPID public key from the `k=` parameter (base64url) and the verified JWT claims. */
  vapid: { publicKey: string; claims: VapidClaims };
  /** The status this receiver answered with. */
  status: number;
}

/** `accept` answers 201 Created like a push service; a number answers that status; `hang` never answers. */
export type ReceiverMode = 'accept' | number | 'hang';

export interface PushReceiver {
  endpoint: string;
  /** What PushSubscription.toJSON().keys would hold (base64url, no padding). */
  keys: { p256dh: string; auth: string };
  /** Every request that arrived, decrypted and verified, in order. */
  messages: ReceivedPush[];
  /** Requests refused because their VAPID header or encryption was wrong; a correct sender leaves this empty. */
  errors: string[];
  /** The first message (already received or still to come) that matches. */
  waitFor(predicate?: (message: ReceivedPush) => boolean, timeoutMs?: number): Promise<ReceivedPush>;
  setMode(mode: ReceiverMode): void;
  close(): Promise<void>;
}

const fromBase64url = (text: string) => Buffer.from(text, 'base64url');

function p256PublicKey(raw: Buffer) {
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, format: 'jwk' });
}

/** Checks an `Authorization: vapid t=<JWT>, k=<key>` header against the endpoint it was sent to. */
export function verifyVapid(authorization: string | undefined, endpoint: string, now = Date.now()): { publicKey: string; claims: VapidClaims } {
  const match = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!match) throw new Error(`no VAPID Authorization header (got ${JSON.stringify(authorization)})`);
  const [, token, publicKey] = match as unknown as [string, string, string];
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const { alg, typ } = JSON.parse(fromBase64url(header).toString()) as { alg?: string; typ?: string };
  if (alg !== 'ES256' || typ !== 'JWT') throw new Error(`VAPID JWT header is ${JSON.stringify({ alg, typ })}, not ES256 JWT`);
  const key = fromBase64url(publicKey);
  if (key.length !== 65 || key[0] !== 4) throw new Error('VAPID k= is not an uncompressed P-256 point');
  // JWS ES256 signatures are r || s (64 bytes), not DER.
  const valid = verify('sha256', Buffer.from(`${header}.${payload}`), { key: p256PublicKey(key), dsaEncoding: 'ieee-p1363' }, fromBase64url(signature));
  if (!valid) throw new Error('VAPID JWT signature does not verify with k=');
  const claims = JSON.parse(fromBase64url(payload).toString()) as VapidClaims;
  if (claims.aud !== new URL(endpoint).origin) throw new Error(`VAPID aud ${claims.aud} is not the endpoint's origin ${new URL(endpoint).origin}`);
  const seconds = Math.floor(now / 1000);
  if (!(claims.exp > seconds && claims.exp <= seconds + 24 * 3600 + 60)) throw new Error(`VAPID exp ${claims.exp} is not within the next 24 hours`);
  if (!/^(mailto:|https:)/.test(claims.sub ?? '')) throw new Error(`VAPID sub ${claims.sub} is neither mailto: nor https:`);
  return { publicKey, claims };
}

/**
 * RFC 8291 §3.4 and RFC 8188 §2: the header (salt, record size, the sender's ephemeral public key), then records of
 * AES-128-GCM, each ending in a delimiter (2 for the last record, 1 before) and zero padding.
 */
export function decryptAes128gcm(body: Buffer, subscriber: { privateKey: Buffer; publicKey: Buffer; auth: Buffer }): Buffer {
  if (body.length < 21) throw new Error('aes128gcm body shorter than its header');
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const keyIdLength = body[20]!;
  const senderPublicKey = body.subarray(21, 21 + keyIdLength);
  if (keyIdLength !== 65 || recordSize < 18) throw new Error(`aes128gcm header: keyid of ${keyIdLength} bytes, record size ${recordSize}`);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(subscriber.privateKey);
  const sharedSecret = ecdh.computeSecret(senderPublicKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), subscriber.publicKey, senderPublicKey]);
  const inputKey = Buffer.from(hkdfSync('sha256', sharedSecret, subscriber.auth, keyInfo, 32));
  const contentKey = Buffer.from(hkdfSync('sha256', inputKey, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const baseNonce = Buffer.from(hkdfSync('sha256', inputKey, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const records = body.subarray(21 + keyIdLength);
  const plaintext: Buffer[] = [];
  for (let offset = 0, sequence = 0; offset < records.length; offset += recordSize, sequence++) {
    const record = records.subarray(offset, offset + recordSize);
    const nonce = Buffer.from(baseNonce);
    // The sequence number XORed into the nonce's low bytes (fewer than 2^32 records here; JS XOR is 32-bit).
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ sequence) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', contentKey, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    const last = offset + recordSize >= records.length;
    if (padded[end] !== (last ? 2 : 1)) throw new Error(`aes128gcm record ${sequence}: padding delimiter ${padded[end]}`);
    plaintext.push(padded.subarray(0, end));
  }
  return Buffer.concat(plaintext);
}

export async function startPushReceiver(options: { mode?: ReceiverMode } = {}): Promise<PushReceiver> {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys();
  const privateKey = ecdh.getPrivateKey();
  const auth = randomBytes(16);
  let mode: ReceiverMode = options.mode ?? 'accept';
  const messages: ReceivedPush[] = [];
  const errors: string[] = [];
  const waiters = new Set<() => void>();
  const path = `/push/${randomBytes(9).toString('base64url')}`;
  let endpoint = '';

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const refuse = (status: number, error: string) => {
        errors.push(error);
        response.writeHead(status, { 'content-type': 'text/plain' }).end(error);
        for (const wake of waiters) wake();
      };
      if (request.method !== 'POST' || request.url !== path) return refuse(404, `${request.method} ${request.url}: not this subscription`);
      let received: ReceivedPush;
      try {
        if (request.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${request.headers['content-encoding']}, not aes128gcm`);
        if (!/^\d+$/.test(String(request.headers.ttl ?? ''))) throw new Error('no TTL header');
        const vapid = verifyVapid(request.headers.authorization, endpoint);
        const text = decryptAes128gcm(Buffer.concat(chunks), { privateKey, publicKey, auth }).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          // Not every payload is JSON; `text` has it.
        }
        received = { text, json, headers: request.headers, vapid, status: typeof mode === 'number' ? mode : 201 };
      } catch (error) {
        return refuse(400, (error as Error).message);
      }
      messages.push(received);
      for (const wake of waiters) wake();
      if (mode === 'hang') return;
      response.writeHead(received.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

  return {
    endpoint,
    keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') },
    messages,
    errors,
    setMode(next) {
      mode = next;
    },
    waitFor(predicate = () => true, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching push within ${timeoutMs} ms (${messages.length} received${errors.length ? `; refused: ${errors.join('; ')}` : ''})`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
