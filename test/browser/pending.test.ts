// A job waiting behind a busy partition, as a phone shows it: the built app in Debian's Chromium against a real server
// on the lab. Its row and its screen say when SLURM expects it to start and why it waits, in words. The gpu partition
// is filled with this suite's own sleeping jobs (cancelled at its end).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labForSuite, onLab } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';

const lab = labForSuite('pending-job browser suite');
const ready = chromiumForSuite('pending-job browser suite') && lab !== null;
/** Screenshots a person looks at (the issue's acceptance), besides the suite's artifacts. */
const SCREENS = process.env.MC_SCREENS_DIR;
const NAME = `mc-pending-phone-${process.pid}`;

describe.skipIf(!ready)('a pending job on the phone', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let context: BrowserContext;
  let page: Page;
  let slurmJobId: string | undefined;

  const shot = async (name: string) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    for (const dir of [ARTIFACTS, SCREENS].filter((path): path is string => !!path)) await page.screenshot({ path: join(dir, `pending-${name}.png`) });
  };

  beforeAll(async () => {
    app = await startAppServer(lab!, { tokenName: 'pending-phone', withProject: true });
    ({ context, page } = await pairedPhone(app));
    await page.setViewportSize({ width: 360, height: 740 });
    for (const dir of [ARTIFACTS, SCREENS].filter((path): path is string => !!path)) mkdirSync(dir, { recursive: true });
    // Every GPU of the partition taken for three minutes.
    for (const gres of ['a100:4', 'h100:2']) {
      const { stdout, status } = onLab(lab!, `sbatch --parsable -J ${NAME} -p gpu --gres=gpu:${gres} -c 1 --mem=100M --time=3 -o /dev/null --wrap 'sleep 170'`);
      expect(status, stdout).toBe(0);
    }
  });
  afterAll(async () => {
    onLab(lab!, `scancel -n ${NAME}${slurmJobId ? `; scancel ${slurmJobId}` : ''}`);
    await context?.close();
    await app?.running.stop();
  });

  it('reads "≈ starts in … · waiting for 2 A100s (Resources)" in its row, and on its screen with what to do', async () => {
    const input = { projectId: app.projectId, cluster: 'lab', primary: 'train', partition: 'gpu', gpusPerNode: 2, gpuType: 'a100', cpusPerTask: 1, memory: '200M', timeLimit: '2:00', parameters: [{ path: 'sleep_seconds', value: 1 }] };
    const submitted = await app.request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id slurmJobId } } ... on Error { message } } }`, { input });
    expect(submitted.submitJob.__typename, JSON.stringify(submitted.submitJob)).toBe('MutationSubmitJobSuccess');
    const { id } = submitted.submitJob.data;
    slurmJobId = submitted.submitJob.data.slurmJobId;
    // A refresh is a poll now; SLURM's backfill sets the estimate within one of its cycles (30 s).
    let job: any;
    await expect
      .poll(
        async () => {
          job = (await app.request(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state estimatedStartAt waitingFor } } } }`, { id })).refreshJob.data;
          return job.estimatedStartAt !== null && job.waitingFor !== null;
        },
        { timeout: 90_000, interval: 2000 },
      )
      .toBe(true);
    expect(job.state).toBe('PENDING');
    const waiting = /^(waiting for 2 A100s \(Resources\)|other jobs are ahead of it in the queue \(Priority\))$/;
    expect(job.waitingFor).toMatch(waiting);

    await page.goto(`${app.url}/projects/${app.projectId}`);
    const line = page.locator(`[data-job-id="${id}"] .job-meta`);
    await expect.poll(() => line.textContent(), { timeout: 20_000 }).toMatch(/^lab · ≈ starts (in \d+ min|any moment) · (waiting for 2 A100s \(Resources\)|other jobs are ahead)/);
    const rowText = await line.textContent();
    // The row in the middle of the screen: at the page's end it sits under the fixed tab bar.
    await line.evaluate((element) => element.scrollIntoView({ block: 'center' }));
    for (const dir of [ARTIFACTS, SCREENS].filter((path): path is string => !!path)) await page.screenshot({ path: join(dir, 'pending-row.png') });

    await page.goto(`${app.url}/jobs/${id}`);
    const why = page.getByTestId('pending-why');
    await expect.poll(() => why.textContent(), { timeout: 20_000 }).toMatch(/^≈ starts (in \d+ min|any moment) · .+\)Nothing to do: it starts/);
    expect(await why.getAttribute('class')).toBe('notice');
    await shot('job');
    console.log(`pending phone suite: row "${rowText}", screen "${await why.textContent()}"`);
  });
});
