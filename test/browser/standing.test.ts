// The user's fair share and GPU limits on Home's cluster card, as a phone shows it (Chromium, 360 px): on the real lab
// (22.05, priority/basic, no limits enforced: only the user's own GPUs, here a held a100×2 job of ours), and on a
// site with multifactor fair share and a QOS GPU limit, which the shared lab may not be given: a `local` cluster
// whose sinfo/scontrol/squeue/sshare/sacctmgr replay the lab's recorded cluster check
// (test/fixtures/slurm/cluster-check-lab-standing.txt) with hand-made fair-share, QOS-limit and running-job lines.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken } from '../graphql-client.js';
import { labForSuite, onLab } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';

const ready = chromiumForSuite('cluster standing suite');
const lab = ready ? labForSuite('cluster standing suite') : null;
/** Screenshots a person looks at, besides the suite's artifacts. */
const SCREENS = process.env.MC_SCREENS_DIR;

const fixture = (name: string) => readFileSync(new URL(`../fixtures/slurm/${name}`, import.meta.url), 'utf8');
const [nodes, , , partitions, config, , assoc, ,] = fixture('cluster-check-lab-standing.txt').split('--mission-control--\n');
/** A site that orders by fair share and enforces limits: the lab's config lines otherwise. */
const siteConfig = config!.replace('priority/basic', 'priority/multifactor').replace('AccountingStorageEnforce = none', 'AccountingStorageEnforce = associations,limits,qos');
const ownJobs = `${fixture('squeue-own-jobs-gpus.txt')}4540|R|lab|normal|gpu|cpu=1,mem=100M,node=1,billing=1,gres/gpu=3,gres/gpu:a100=3|\n`;

/** Stand-ins answering the commands the server sends a cluster, from files (no quoting of SLURM text in shell). */
function standIns(bin: string) {
  const data = join(bin, 'data');
  mkdirSync(data, { recursive: true });
  const files: Record<string, string> = {
    nodes: nodes!,
    partitions: partitions!,
    config: siteConfig,
    sinfo: 'gpu*|up|1|mix\ngpu*|up|1|idle\ncpu|up|1|idle\n',
    sshare: 'lab|mlops|0.823529\n',
    assoc: assoc!,
    qos: 'normal|gres/gpu=8|||gres/gpu=4\n',
    jobs: ownJobs,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(data, name), text);
  const scripts: Record<string, string> = {
    sinfo: `case "$*" in *--version*) echo 'slurm-wlm 22.05.8';; *) cat ${data}/sinfo;; esac`,
    scontrol: `case "$*" in *node*) cat ${data}/nodes;; *partition*) cat ${data}/partitions;; *config*) cat ${data}/config;; esac`,
    squeue: `case "$*" in *-u*) cat ${data}/jobs;; esac`,
    sshare: `cat ${data}/sshare`,
    sacctmgr: `case "$*" in *assoc*) cat ${data}/assoc;; *qos*) cat ${data}/qos;; esac`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
}

async function shoot(page: Page, card: ReturnType<Page['locator']>, name: string) {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const dir of [ARTIFACTS, ...(SCREENS ? [SCREENS] : [])]) {
      mkdirSync(dir, { recursive: true });
      await card.screenshot({ path: join(dir, `${name}-360-${scheme}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

const phrases = (card: ReturnType<Page['locator']>) => card.getByTestId('standing').locator('span').allTextContents();

describe.skipIf(!lab)("the user's standing on the cluster card", () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let site: Awaited<ReturnType<typeof startServer>>;
  let labPhone: { context: BrowserContext; page: Page };
  let sitePhone: { context: BrowserContext; page: Page };
  let heldJob: string | undefined;
  const originalPath = process.env.PATH;

  beforeAll(async () => {
    // Before the server starts: pairing opens Home, whose GPU check is then cached for the cluster's gpuCacheSeconds.
    const submitted = onLab(lab!, "sbatch --parsable --hold -J mc-standing-browser --mem=100M --time=2 --gres=gpu:a100:2 --wrap='true'");
    if (submitted.status === 0) heldJob = submitted.stdout.trim().split(';')[0]!;
    app = await startAppServer(lab!, { tokenName: 'standing-phone' });
    labPhone = await pairedPhone(app);
    await labPhone.page.setViewportSize({ width: 360, height: 740 });

    const dir = join(app.dir, 'site');
    const bin = join(dir, 'bin');
    standIns(bin);
    // The local transport runs the commands with this process's PATH: the stand-ins first.
    process.env.PATH = `${bin}:${originalPath}`;
    writeFileSync(join(dir, 'clusters.yaml'), 'clusters:\n  hpc:\n    transport: local\n');
    site = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir: app.staticDir });
    const token = await createTestToken(site.services, { name: 'site-phone' });
    sitePhone = await pairedPhone({ dir, url: site.url, token });
    await sitePhone.page.setViewportSize({ width: 360, height: 740 });
  });
  afterAll(async () => {
    process.env.PATH = originalPath;
    if (heldJob) onLab(lab!, `scancel ${heldJob}`);
    await labPhone?.context.close();
    await sitePhone?.context.close();
    await site?.stop();
    await app?.running.stop();
  });

  it('on the lab: our pending GPUs, and nothing about fair share or limits the lab does not have', async () => {
    expect(heldJob).toMatch(/^\d+$/);
    const { page } = labPhone;
    await page.goto(`${app.url}/`);
    const card = page.locator('[data-cluster="lab"]');
    await expect.poll(() => card.getByTestId('standing').count(), { timeout: 30_000 }).toBe(1);
    const shown = await phrases(card);
    expect(shown).toHaveLength(1);
    // Other suites run as the same user, so the counts are at least ours.
    const [, running, pending] = /^Your GPUs: (\d+) running, (\d+) pending$/.exec(shown[0]!) ?? [];
    expect(Number(pending)).toBeGreaterThanOrEqual(2);
    expect(Number(running)).toBeGreaterThanOrEqual(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await shoot(page, card, 'standing-lab');
  });

  it('on a site with fair share and a QOS GPU limit: the share, the GPUs against the limit, the per-job cap', async () => {
    const { page } = sitePhone;
    await page.goto(`${site.url}/`);
    const card = page.locator('[data-cluster="hpc"]');
    await expect.poll(() => card.getByTestId('standing').count(), { timeout: 30_000 }).toBe(1);
    expect(await phrases(card)).toEqual(['Your fair share 0.82', 'Your GPUs: 3 running, 3 pending of 8 allowed (QOS normal)', 'At most 4 GPUs per job (QOS normal)']);
    // At 360 px each phrase wraps inside the card, none wider than it.
    const overflows = await card.getByTestId('standing').locator('span').evaluateAll((spans) => spans.map((span) => span.getBoundingClientRect().right - span.parentElement!.getBoundingClientRect().right));
    for (const overflow of overflows) expect(overflow).toBeLessThanOrEqual(0.5);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await shoot(page, card, 'standing-site');
  });
});
