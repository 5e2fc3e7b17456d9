// `npm run user -- add NAME [--admin] | list | remove NAME`: the people a group server serves (issue 21), in the
// server's database (the same --data-dir / --database-url as the server), usable while the server runs. A new user
// gets a token with `npm run token -- create --name NAME-phone --user NAME`.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createUserService, type UserInfo } from '../access/users.js';
import { databaseTarget } from '../db/orm-config.js';
import { initOrm } from '../db/orm.js';
import { AppError, ConfigError } from '../errors.js';

const USAGE = `usage: npm run user -- <command> [options]

  add NAME [--admin]   a new user (an admin sees every user's projects, jobs and sweeps, and changes only their own)
  list                 every user: name, admin, tokens, jobs
  remove NAME          a user who owns no project, job or sweep (their tokens and push devices go with them)

  --data-dir DIR       the server's data directory (MC_DATA_DIR, default ./data)
  --database-url URL   the group server's PostgreSQL database (MC_DATABASE_URL), in place of the data directory's`;

class UsageError extends AppError {}

function table(users: UserInfo[]): string {
  const rows = [['NAME', 'ROLE', 'TOKENS', 'JOBS', 'CREATED'], ...users.map((user) => [user.name, user.admin ? 'admin' : 'user', String(user.tokens), String(user.jobs), user.createdAt.toISOString().slice(0, 10)])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export async function runUserCli(argv: string[], print: (text: string) => void = console.log): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { admin: { type: 'boolean', default: false }, 'data-dir': { type: 'string' }, 'database-url': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return print(USAGE);
  const [command, ...rest] = positionals;
  const wanted = command === 'list' ? 0 : 1;
  if (!['add', 'list', 'remove'].includes(command ?? '')) throw new UsageError(command ? `unknown command "${command}"\n\n${USAGE}` : USAGE);
  if (rest.length !== wanted) throw new UsageError(`${command}: ${wanted ? 'takes the user\'s NAME' : 'takes no argument'}\n\n${USAGE}`);
  const dataDir = resolve(values['data-dir'] ?? process.env.MC_DATA_DIR ?? 'data');
  const orm = await initOrm(databaseTarget({ dataDir, databaseUrl: values['database-url'] ?? process.env.MC_DATABASE_URL }));
  try {
    const users = createUserService({ orm });
    if (command === 'add') {
      const user = await users.add(rest[0]!, { admin: values.admin });
      print(`added ${user.admin ? 'admin' : 'user'} "${user.name}"; give them a token: npm run token -- create --name ${user.name}-phone --user ${user.name}`);
    } else if (command === 'list') {
      print(table(await users.list()));
    } else {
      await users.remove(rest[0]!);
      print(`removed "${rest[0]}": their tokens and push devices are gone, their open subscriptions end`);
    }
  } finally {
    await orm.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await runUserCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    console.error(`error: ${error.message}`);
    process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
  }
}
