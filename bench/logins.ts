// Controller load of per-login polling (issue 21's group server): the real services and the real poller against
// the lab, where the owner's jobs are asked about over the cluster entry's own account (mlops) and alice's over her
// own login (mlops2). N held jobs per account; per poll, the remote commands each login sends, what slurmctld
// counts for each account, payload bytes and poll time — with both logins tracking jobs, and with the owner alone.
import type { Bench, Figure } from './bench.js';
import { kB } from './bench.js';
import { requireLab } from './lab-server.js';
import { createJobRow, emptyTraffic, labRun, loadAverage, median, meteredTransport, ms, OWNER_ID, RUN_ID, slurmctldRpcsOf, type Traffic } from './support.js';
import { clusterConfig } from '../server/config.js';
import { Job } from '../server/db/entities.js';
import { initOrm } from '../server/db/orm.js';
import { createServices } from '../server/services.js';
import { createTransport } from '../server/ssh/index.js';
import { labClusterEntry, labLoginEntry, type Lab } from '../test/lab/lab-env.js';

// MC_BENCH_LOGINS_LEVELS=10,100 for a quick run while developing.
const LEVELS = (process.env.MC_BENCH_LOGINS_LEVELS ?? '10,100,500').split(',').map(Number);
const POLLS = 5;
const JOB_NAME = `${RUN_ID}-logins`;
const ALICE = 'alice';

// One remote command per account submits its jobs: real, individual sbatch submissions, held so they stay in the
// queue for the whole run (the poll asks the queue only; accounting is for jobs that left it).
const SUBMIT_SCRIPT = `name=$1 count=$2
i=0; while [ $i -lt "$count" ]; do sbatch --parsable -J "$name" -p cpu --mem=10M --time=1 -o /dev/null --hold --wrap=true || exit 1; i=$((i + 1)); done`;

interface Account {
  /** The SSH account (connection.user) the login reaches the lab as. */
  user: string;
  identityFile: string;
  /** The Mission Control user whose login it is, once the database has them. */
  userName: string;
  ids: string[];
}

interface PollSample {
  ms: number;
  /** Per SSH account: what its login's transport sent and received during the poll. */
  traffic: Map<string, Traffic>;
  /** Per SSH account: slurmctld's RPC count (sdiag) during the poll; null without sdiag. */
  rpcs: Map<string, number | null>;
}

interface Measured {
  n: number;
  polled: Account[];
  samples: PollSample[];
}

/**
 * The real services on an in-memory database, the lab cluster with alice's login, one Job row per held job of the
 * polled accounts (owned by that account's Mission Control user), one unmeasured poll (connections opened, first
 * states saved), then POLLS polls through the real poller, each counted per SSH account.
 */
async function measure(lab: Lab, n: number, polled: Account[], all: Account[]): Promise<Measured> {
  const orm = await initOrm(':memory:');
  // Counted by the account each transport logs in as: the cluster service makes one per (cluster, login).
  const meters = new Map<string, ReturnType<typeof meteredTransport>>();
  const config = { file: 'bench', clusters: [clusterConfig('lab', { ...labClusterEntry(lab), logins: { [ALICE]: labLoginEntry(lab) } })] };
  const services = createServices({
    orm,
    config,
    clusters: {
      transportFactory: (connection, hooks) => {
        if (meters.has(connection.user!)) throw new Error(`a second transport for ${connection.user}: the counts would split`);
        const meter = meteredTransport(createTransport(connection, hooks));
        meters.set(connection.user!, meter);
        return meter.transport;
      },
    },
  });
  const pollErrors: string[] = [];
  const recordPoll = services.clusters.recordPoll;
  services.clusters.recordPoll = (name, userId, record) => {
    if (record.error) pollErrors.push(`user #${userId}: ${record.error}`);
    recordPoll(name, userId, record);
  };
  try {
    const userIds = new Map([[ALICE, (await services.users.add(ALICE)).id]]);
    const userIdOf = (account: Account) => (account.userName === ALICE ? userIds.get(ALICE)! : OWNER_ID);
    const em = orm.em.fork();
    for (const account of polled) for (const slurmJobId of account.ids) createJobRow(em, { cluster: 'lab', state: 'PENDING', slurmJobId, userId: userIdOf(account) });
    await em.flush();

    const take = () => new Map(all.map((account) => [account.user, meters.get(account.user)?.take() ?? emptyTraffic()]));
    const rpcsNow = async () => new Map(await Promise.all(all.map(async (account) => [account.user, await slurmctldRpcsOf(account.user)] as const)));
    await services.poller.pollNow('lab');
    take();
    const samples: PollSample[] = [];
    for (let poll = 0; poll < POLLS; poll++) {
      const before = await rpcsNow();
      const started = performance.now();
      await services.poller.pollNow('lab');
      const elapsed = performance.now() - started;
      const after = await rpcsNow();
      const rpcs = new Map(all.map((account) => [account.user, before.get(account.user) == null || after.get(account.user) == null ? null : after.get(account.user)! - before.get(account.user)!]));
      samples.push({ ms: elapsed, traffic: take(), rpcs });
    }
    if (pollErrors.length) throw new Error(`polls failed: ${pollErrors.slice(0, 3).join('; ')}`);

    // Every job answered (one the queue did not show would have turned UNKNOWN), and each login's queue was its
    // own account's: it lists that account's held jobs and none of the other's.
    const tracked = polled.reduce((sum, account) => sum + account.ids.length, 0);
    const pending = await orm.em.fork().count(Job, { state: 'PENDING' });
    if (pending !== tracked) throw new Error(`${tracked - pending} of ${tracked} jobs were not answered as pending`);
    for (const account of polled) {
      const seen = new Set(services.poller.externalJobs('lab', userIdOf(account)).map((status) => status.slurmJobId));
      const missing = account.ids.filter((id) => !seen.has(id));
      if (missing.length) throw new Error(`${account.user}'s login did not see ${missing.length} of its ${account.ids.length} jobs`);
      const others = all.filter((other) => other.user !== account.user).flatMap((other) => other.ids.filter((id) => seen.has(id)));
      if (others.length) throw new Error(`${account.user}'s login saw ${others.length} jobs of another account`);
    }
    return { n, polled, samples };
  } finally {
    await services.close();
    await orm.close();
  }
}

const bench: Bench = {
  title: 'Per-login polling: controller load with each user on their own login',
  async run() {
    const lab = requireLab();
    const owner: Account = { user: lab.user, identityFile: lab.identityFile, userName: 'owner', ids: [] };
    const alice: Account = { user: lab.otherUser.user, identityFile: lab.otherUser.identityFile, userName: ALICE, ids: [] };
    const accounts = [owner, alice];
    const results: Measured[] = [];
    const loads: string[] = [];
    try {
      for (const n of LEVELS) {
        // Top each account's queue up to N held jobs, both accounts at once.
        await Promise.all(
          accounts.map(async (account) => {
            const add = n - account.ids.length;
            if (add <= 0) return;
            const submitted = (await labRun(lab, `sh -c '${SUBMIT_SCRIPT.replaceAll("'", `'\\''`)}' sh ${JOB_NAME} ${add}`, { as: account, timeoutMs: 600_000 }))
              .split('\n')
              .filter(Boolean)
              .map((line) => line.split(';')[0]!);
            if (submitted.length !== add) throw new Error(`${account.user}: submitted ${submitted.length} of ${add} jobs`);
            account.ids.push(...submitted);
          }),
        );
        // Ids are copied: the next level adds to the accounts' lists.
        const snapshot = (account: Account): Account => ({ ...account, ids: account.ids.slice(0, n) });
        results.push(await measure(lab, n, [snapshot(owner)], accounts.map(snapshot)));
        results.push(await measure(lab, n, accounts.map(snapshot), accounts.map(snapshot)));
        loads.push(`N=${n}: ${loadAverage()}`);
        console.log(`N=${n}: 1 login ${ms(median(results.at(-2)!.samples.map((sample) => sample.ms)))}, 2 logins ${ms(median(results.at(-1)!.samples.map((sample) => sample.ms)))} (load ${loadAverage()})`);
      }
    } finally {
      for (const account of accounts) {
        await labRun(lab, `scancel -u ${account.user} -n ${JOB_NAME}`, { as: account }).catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`));
      }
    }

    const users = accounts.map((account) => account.user);
    const commandsOf = (sample: PollSample, user: string) => sample.traffic.get(user)!.commands + sample.traffic.get(user)!.streams;
    const bytesOf = (sample: PollSample, user: string) => sample.traffic.get(user)!.sentBytes + sample.traffic.get(user)!.receivedBytes;
    /** The most commands any polled login sent in any one poll: the figure the goal is about. */
    const mostPerLogin = (result: Measured) => Math.max(...result.samples.flatMap((sample) => result.polled.map((account) => commandsOf(sample, account.user))));
    const totalCommands = (result: Measured) => median(result.samples.map((sample) => users.reduce((sum, user) => sum + commandsOf(sample, user), 0)));
    const rpcsOf = (result: Measured, user: string) => {
      const values = result.samples.map((sample) => sample.rpcs.get(user)).filter((value): value is number => value != null);
      return values.length ? String(median(values)) : 'n/a';
    };
    const timeOf = (result: Measured) => median(result.samples.map((sample) => sample.ms));
    const perUser = (format: (user: string) => string | number) => users.map(format).join(' / ');
    const rows = results.map((result) => [
      result.n,
      result.polled.length === 1 ? `1 (${result.polled[0]!.user})` : `2 (${users.join(', ')})`,
      result.polled.reduce((sum, account) => sum + account.ids.length, 0),
      totalCommands(result),
      perUser((user) => Math.max(...result.samples.map((sample) => commandsOf(sample, user)))),
      perUser((user) => rpcsOf(result, user)),
      kB(median(result.samples.map((sample) => users.reduce((sum, user) => sum + bytesOf(sample, user), 0)))),
      perUser((user) => kB(median(result.samples.map((sample) => bytesOf(sample, user))))),
      ms(timeOf(result)),
      result.samples.length,
    ]);
    const single = results.filter((result) => result.polled.length === 1);
    const both = results.filter((result) => result.polled.length === 2);
    const top = { single: single.at(-1)!, both: both.at(-1)! };
    const figures: Figure[] = [
      {
        label: `remote commands per (cluster, login) per poll, most in any poll (N = ${LEVELS.join(', ')} jobs per login; 2 logins)`,
        value: both.map(mostPerLogin).join(', '),
        goal: '≤ 1 at every N',
        // The one-login runs count too: the goal holds whatever the number of logins.
        met: results.every((result) => mostPerLogin(result) <= 1),
      },
      { label: `remote commands per poll in total, 1 login vs 2 logins (N = ${LEVELS.join(', ')})`, value: LEVELS.map((_, index) => `${totalCommands(single[index]!)} vs ${totalCommands(both[index]!)}`).join(', ') },
      { label: `slurmctld RPCs per poll at N = ${top.both.n} per login (sdiag, ${users.join(' / ')}), 2 logins`, value: perUser((user) => rpcsOf(top.both, user)) },
      { label: `poll time at N = ${top.both.n} per login, 1 login vs 2 logins (median)`, value: `${ms(timeOf(top.single))} vs ${ms(timeOf(top.both))}` },
    ];
    return {
      figures,
      tables: [
        {
          columns: ['N per login', 'logins polled', 'jobs tracked', 'remote commands per poll (median)', `remote commands per login, most in a poll (${users.join(' / ')})`, `slurmctld RPCs per poll (sdiag, ${users.join(' / ')})`, 'payload bytes per poll', `payload bytes per login (${users.join(' / ')})`, 'poll time (median)', 'polls measured'],
          rows,
        },
      ],
      notes: [
        `Real services (createServices, in-memory SQLite) with the lab cluster and \`logins: { ${ALICE}: ${alice.user} }\`; the owner (user 1) polls as the entry's own account ${owner.user}, ${ALICE} as ${alice.user} with her own key. The real poller (\`poller.pollNow('lab')\`), one unmeasured poll first (connections opened, first states saved), then ${POLLS} measured; each on fresh services, so "1 login" has only the owner's rows and "2 logins" both users'.`,
        `Jobs: N real held sbatch submissions per account (its own key, one remote command each), the same ids in both runs of a level, cancelled at the end. Every poll answered every tracked job as pending, and each login's queue listed its own account's jobs and none of the other's (checked).`,
        'Remote commands and payload bytes (command lines + stdin + stdout + stderr) are counted per SSH account by a counting transport inside the cluster service\'s transport factory. slurmctld RPCs: each account\'s count in `sdiag`, read as root before and after each poll; other sessions using the lab as the same account can add to it.',
        `Load average (1/5/15 min) after each level: ${loads.join('; ')}.`,
      ],
    };
  },
};

export default bench;
