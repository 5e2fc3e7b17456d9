// `npm run token -- create --name phone [--read-only] | list | revoke <name>`: API tokens in the server's database
// (the same --data-dir / MC_DATA_DIR), usable while the server runs. A created token is printed once, with the
// pairing link and its QR code; nothing can print it again.
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pairingInstructions, phoneBaseUrl, tokenCommand } from '../access/pairing.js';
import { defaultConfigPath, defaultServerConfig, loadConfig, type ServerConfig } from '../config.js';
import { databaseKind, databaseTarget } from '../db/orm-config.js';
import { initOrm } from '../db/orm.js';
import { AppError, ConfigError } from '../errors.js';
import { createTokenService, type TokenInfo } from '../access/tokens.js';
import { createUserService, type UserService } from '../access/users.js';

const USAGE = `usage: npm run token -- <command> [options]

  create --name NAME [--user USER] [--read-only] [--output FILE]
                                     make a token acting as USER (required when the server has several users;
                                     npm run user -- list); prints it once, with the phone's pairing link and QR code,
                                     or with --output writes it to a new FILE readable only by you (an agent's
                                     or a notebook's token: npm run mcp -- --token-file FILE)
  list                               every token: name, user, rights, created, last used (never the token itself)
  revoke NAME                        delete a token: refused from its next request, its open subscriptions
                                     end and its push devices are removed, at once

  --data-dir DIR   the server's data directory (MC_DATA_DIR, default ./data)
  --database-url URL
                   the group server's PostgreSQL database (MC_DATABASE_URL), in place of the data directory's
  --config FILE    the server's config, for server.publicUrl in the pairing link (MC_CONFIG, default config/clusters.yaml)`;

class UsageError extends AppError {}

/** The user a new token acts as: --user, or the server's only user; with several, which one must be said. */
async function tokenUser(users: UserService, name: string | undefined) {
  if (name !== undefined) return users.byName(name);
  const all = await users.list();
  if (all.length === 1) return all[0]!;
  throw new UsageError(`create: --user is required: this server has ${all.length} users (${all.map((user) => user.name).join(', ')})`);
}

const when = (date: Date | null): string => (date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'never');

function table(tokens: TokenInfo[]): string {
  const rows = [['NAME', 'USER', 'RIGHTS', 'CREATED', 'LAST USED'], ...tokens.map((token) => [token.name, token.user, token.readOnly ? 'read-only' : 'read-write', when(token.createdAt), when(token.lastUsedAt)])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

function serverConfig(configPath: string): ServerConfig {
  // A token may be made before the config exists (first setup); the link then uses the default address.
  return existsSync(configPath) ? (loadConfig(configPath).server ?? defaultServerConfig) : defaultServerConfig;
}

export async function runTokenCli(argv: string[], print: (text: string) => void = console.log): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        user: { type: 'string' },
        'read-only': { type: 'boolean', default: false },
        output: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help) return print(USAGE);
  const dataDir = resolve(values['data-dir'] ?? process.env.MC_DATA_DIR ?? 'data');
  const configPath = values.config ? resolve(values.config) : defaultConfigPath();
  const database = databaseTarget({ dataDir, databaseUrl: values['database-url'] ?? process.env.MC_DATABASE_URL });

  const expectArguments = (count: number) => {
    if (rest.length !== count) throw new UsageError(`${command}: ${count === 0 ? 'takes no argument' : `takes ${count} argument(s)`}\n\n${USAGE}`);
  };
  if (command === 'create') {
    expectArguments(0);
    if (!values.name) throw new UsageError(`create: --name is required (e.g. --name phone)\n\n${USAGE}`);
    if (values.output !== undefined && existsSync(values.output)) throw new UsageError(`create: --output ${values.output} exists already (a token file is never overwritten)`);
  } else if (command === 'revoke') {
    expectArguments(1);
  } else if (command === 'list') {
    expectArguments(0);
  } else {
    throw new UsageError(command ? `unknown command "${command}"\n\n${USAGE}` : USAGE);
  }
  // Listing or revoking in a directory without a database is a wrong --data-dir, not an empty list.
  if (command !== 'create' && databaseKind(database) === 'sqlite' && !existsSync(database)) throw new UsageError(`no database at ${database}: is --data-dir (or MC_DATA_DIR) the server's?`);
  const server = command === 'create' ? serverConfig(configPath) : defaultServerConfig;

  const orm = await initOrm(database);
  try {
    const tokens = createTokenService({ orm });
    if (command === 'create') {
      const { token, info } = await tokens.create(values.name!, { userId: (await tokenUser(createUserService({ orm }), values.user)).id, readOnly: values['read-only'] });
      if (values.output !== undefined) {
        // Created exclusively and 0600, as ssh-keygen writes a key: no moment at which another user could read it.
        writeFileSync(values.output, `${token}\n`, { mode: 0o600, flag: 'wx' });
        return print(`created ${info.readOnly ? 'read-only ' : ''}token "${info.name}" in ${values.output} (readable only by you); it is not shown anywhere else`);
      }
      const baseUrl = phoneBaseUrl(server, `http://${process.env.MC_HOST ?? '127.0.0.1'}:${process.env.MC_PORT ?? 4000}`);
      print(await pairingInstructions(info.name, token, baseUrl, { configPath, readOnly: info.readOnly }));
    } else if (command === 'list') {
      const all = await tokens.list();
      print(all.length ? table(all) : `no tokens yet: \`${tokenCommand('create --name phone', { configPath, dataDir })}\``);
    } else {
      await tokens.revoke(rest[0]!);
      print(`revoked "${rest[0]}": requests with it are refused from now on`);
    }
  } finally {
    await orm.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await runTokenCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    console.error(`error: ${error.message}`);
    // 2 for a wrong command line or config, as the server; 1 for a refused request (name taken, unknown name).
    process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
  }
}
