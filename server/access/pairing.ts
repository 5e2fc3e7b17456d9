// Pairing a phone and the access plan of a start: which tokens a server needs for the address it binds to, the
// pairing link with its QR code, and what the server and the token CLI print about it.
import { networkInterfaces } from 'node:os';
import { relative, resolve } from 'node:path';
import { defaultConfigPath, type ServerConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { isLoopbackHost } from './session.js';
import type { TokenService } from './tokens.js';

export interface AccessOptions {
  server: ServerConfig;
  host: string;
  configPath: string;
  dataDir: string;
}

/** How to run the token CLI against this server's data (and config, for the pairing link). */
export function tokenCommand(args: string, { configPath, dataDir }: Pick<AccessOptions, 'configPath' | 'dataDir'>): string {
  const flags = [
    resolve(dataDir) !== resolve('data') ? ` --data-dir ${relative('.', dataDir) || '.'}` : '',
    resolve(configPath) !== defaultConfigPath() ? ` --config ${relative('.', configPath)}` : '',
  ].join('');
  return `npm run token -- ${args}${flags}`;
}

/**
 * Checks, before the server listens, that the access settings make sense for the address it binds to. Returns
 * whether tokens are required and whether the first one must be created (after listening, so a failed start does
 * not leave behind a token nobody saw).
 */
export async function planAccess(tokens: Pick<TokenService, 'count'>, options: AccessOptions): Promise<{ required: boolean; createFirstToken: boolean }> {
  const { auth } = options.server;
  const loopback = isLoopbackHost(options.host);
  if (auth.allowLoopbackWithoutToken) {
    if (!loopback) {
      throw new ConfigError(
        `${options.configPath}: server.auth.allowLoopbackWithoutToken applies only to a server bound to loopback, and --host is ${options.host}: remove it (then pair with a token) or bind to 127.0.0.1`,
      );
    }
    return { required: false, createFirstToken: false };
  }
  const none = (await tokens.count()) === 0;
  if (none && !auth.createTokenAtFirstStart && !loopback) {
    throw new ConfigError(
      `no API token exists and server.auth.createTokenAtFirstStart is false, so nobody could use a server bound to ${options.host}: run \`${tokenCommand('create --name phone', options)}\` first`,
    );
  }
  return { required: true, createFirstToken: none && auth.createTokenAtFirstStart };
}

/** The address a phone should open: publicUrl, else where the server listens (a LAN address for 0.0.0.0 / ::). */
export function phoneBaseUrl(server: Pick<ServerConfig, 'publicUrl'>, listeningUrl: string): string {
  if (server.publicUrl) return server.publicUrl;
  const url = new URL(listeningUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    if (lan) url.hostname = lan.address;
  }
  return url.origin;
}

/** The link the phone app pairs from: the token travels in the fragment, which browsers never send to a server. */
export const pairingLink = (baseUrl: string, token: string): string => `${baseUrl}/#pair=${token}`;

/** The pairing link and a terminal QR code of it, for a token that was just created (printed once, never again). */
export async function pairingInstructions(name: string, token: string, baseUrl: string, options: { configPath: string; readOnly?: boolean }): Promise<string> {
  const link = pairingLink(baseUrl, token);
  // Loaded here: only a first start or the token CLI shows a code, and every other start would pay for the module.
  const { default: QRCode } = await import('qrcode');
  const qr = await QRCode.toString(link, { type: 'terminal', small: true });
  const onlyHere = /^https?:\/\/(localhost|127\.|\[::1\])/.test(baseUrl)
    ? `\nThe link points at ${baseUrl}, which only this machine reaches: set server.publicUrl in ${options.configPath} to the address your phone uses (your tunnel's URL).\n`
    : '';
  return [
    `API token "${name}"${options.readOnly ? ' (read-only)' : ''}, shown only this once:`,
    '',
    `  ${token}`,
    '',
    'Pair your phone: scan this code with its camera, or open the link on it.',
    '',
    `  ${link}`,
    '',
    qr.trimEnd(),
    onlyHere,
  ].join('\n');
}

/** What the server prints about access once it listens (a new token's pairing link only on the first start). */
export async function accessNotice(
  plan: { required: boolean; firstToken?: { name: string; token: string } },
  options: AccessOptions & { url: string },
): Promise<string> {
  if (!plan.required) {
    return 'API tokens are off: this server answers requests from this machine without one (server.auth.allowLoopbackWithoutToken).';
  }
  if (plan.firstToken) {
    const instructions = await pairingInstructions(plan.firstToken.name, plan.firstToken.token, phoneBaseUrl(options.server, options.url), options);
    return `No API token existed yet, so one was created.\n${instructions}\nMore devices: \`${tokenCommand('create --name <name>', options)}\`.`;
  }
  return `API tokens are required. To pair a device: \`${tokenCommand('create --name <name>', options)}\` (list: \`${tokenCommand('list', options)}\`, revoke: \`${tokenCommand('revoke <name>', options)}\`).`;
}
