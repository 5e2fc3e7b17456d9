// The launch form as a sweep, in Debian's Chromium at phone size against the real server and the lab: seed swept
// 1,2,3 and the model group swept resnet+vit count 6 runs live, launch ONE job array and land on the sweep's screen;
// a clone of that sweep switches the same fields on again; a single launch waits for it with afterok; a clone of
// one of its tasks keeps the task's own override. On the way:
// a group change keeps the other parameters' inputs (the element the user types in is not replaced). Screenshots at
// 390 px, light and dark, go to MC_SCREENS (default test-results/browser/).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';

const lab = labForSuite('launch-sweep suite');
const ready = chromiumForSuite('launch-sweep suite') && lab !== null;
const SCREENS = process.env.MC_SCREENS ?? ARTIFACTS;

describe.skipIf(!ready)('the launch form launches a sweep', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let context: BrowserContext;
  let page: Page;
  let sweepId: number;

  const open = async (path: string) => {
    await page.goto(`${app.url}${path}`);
    await page.waitForLoadState('networkidle').catch(() => undefined);
  };
  const control = (field: string) => page.locator(`#field-${field.replace(/[^A-Za-z0-9_-]/g, '_')}`);
  const settled = () => expect.poll(() => page.getByTestId('hydra-fields').getAttribute('aria-busy'), { timeout: 15_000 }).toBe('false');
  const runCount = () => page.getByTestId('run-count');
  /** The view at 390 px in both color schemes, scrolled so `anchor` sits under the sticky header. */
  const shots = async (name: string, anchor: string) => {
    mkdirSync(SCREENS, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.locator(anchor).evaluate((element) => {
        element.scrollIntoView({ block: 'start' });
        window.scrollBy(0, -110);
      });
      await page.screenshot({ path: join(SCREENS, `launch-sweep-${name}-390-${scheme}.png`) });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const sweep = async (id: number) =>
    (await app.request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { id size arrayJobId definition runs { index overrides task { id slurmJobId } } } } ... on Error { message } } }`, { id })).sweep.data;

  beforeAll(async () => {
    app = await startAppServer(lab!, { tokenName: 'sweep-phone', withProject: true });
    ({ context, page } = await pairedPhone(app));
  });
  afterAll(async () => {
    await context?.close();
    await app?.running.stop();
  });

  it('keeps the input of an unchanged parameter across a group’s recomposition', async () => {
    await open(`/projects/${app.projectId}/launch`);
    const model = control('groups.model');
    await model.waitFor({ timeout: 20_000 });
    const seed = control('parameters.seed');
    // The element the user would be typing in, marked: a recomposition that rebuilt it loses the mark.
    await seed.evaluate((element) => ((element as HTMLInputElement).dataset.before = 'vit'));
    await model.selectOption('vit');
    await expect.poll(() => control('parameters.model.patch_size').count(), { timeout: 15_000 }).toBe(1);
    await settled();
    expect(await seed.evaluate((element) => (element as HTMLInputElement).dataset.before ?? null)).toBe('vit');
    await model.selectOption('resnet');
    await expect.poll(() => control('parameters.model.patch_size').count(), { timeout: 15_000 }).toBe(0);
    await settled();
  });

  it('sweeps seed 1,2,3 × model resnet,vit: 6 runs, launched as one job array, on the sweep’s screen', async () => {
    await open(`/projects/${app.projectId}/launch`);
    await control('groups.model').waitFor({ timeout: 20_000 });
    await page.getByLabel('Memory per node').fill('200M');
    await page.getByLabel('Time limit').fill('5:00');

    await page.getByRole('button', { name: 'Sweep seed', exact: true }).click();
    await control('parameters.seed').fill('1,2,3');
    await expect.poll(() => runCount().textContent(), { timeout: 15_000 }).toContain('3 runs');

    await page.getByRole('button', { name: 'Sweep model', exact: true }).click();
    const models = page.getByRole('group', { name: /^model/ });
    expect(await models.getByLabel('resnet').isChecked()).toBe(true);
    await models.getByLabel('vit').check();
    await expect.poll(() => runCount().textContent(), { timeout: 15_000 }).toMatch(/^6 runs(?!.*counting)/);
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 15_000 }).toContain('Checked: 6 runs');

    await page.getByTestId('sweep-runs').locator('summary').click();
    const runs = page.getByTestId('sweep-runs').locator('li');
    expect(await runs.count()).toBe(6);
    expect(await runs.first().textContent()).toContain('seed=1');
    expect(await runs.first().textContent()).toContain('model=resnet');
    await page.getByText('Script of every run').click();
    expect(await page.getByTestId('script-preview').textContent()).toContain('mc_task_args');

    await page.setViewportSize({ width: 390, height: 844 });
    await shots('fields', '#field-groups_model');
    await shots('seed', 'summary:has-text("top level")');
    await shots('runs', '[data-testid="sweep-summary"]');

    // A refusal lands under the field it names: a seed Hydra cannot sweep, then a sweep over the limit.
    await control('parameters.seed').fill('interval(0,1)');
    await expect.poll(() => page.locator('#field-parameters_seed-error').textContent(), { timeout: 15_000 }).toContain('interval');
    await shots('refused', '#field-parameters_seed');
    await control('parameters.seed').fill('range(0,1000)');
    await expect.poll(() => page.locator('#field-sweep-error').textContent(), { timeout: 15_000 }).toMatch(/2000 runs .*limit of \d+ runs/);
    await shots('too-large', '[data-testid="sweep-summary"]');
    await control('parameters.seed').fill('1,2,3');
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 15_000 }).toContain('Checked: 6 runs');

    await page.getByRole('button', { name: 'Launch 6 runs on lab' }).click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 30_000 }).toMatch(/^\/sweeps\/\d+$/);
    sweepId = Number(/\/sweeps\/(\d+)$/.exec(new URL(page.url()).pathname)![1]);

    const stored = await sweep(sweepId);
    expect(stored.size).toBe(6);
    expect(stored.definition).toEqual(['seed=1,2,3', 'model=resnet,vit']);
    expect(stored.runs).toHaveLength(6);
    expect(stored.arrayJobId).toMatch(/^\d+$/);
    // One job array: every task is a task of it.
    expect(stored.runs.map((run: { task: { slurmJobId: string } }) => run.task.slurmJobId)).toEqual([0, 1, 2, 3, 4, 5].map((index) => `${stored.arrayJobId}_${index}`));
    expect(stored.runs[5].overrides).toEqual(['seed=3', 'model=vit']);
  });

  it('clones the sweep with its swept fields switched on, and a single launch waits for it (afterok)', async () => {
    await open(`/projects/${app.projectId}/launch?sweep=${sweepId}`);
    await expect.poll(() => page.getByTestId('clone-banner').textContent(), { timeout: 20_000 }).toContain(`Clone of sweep #${sweepId}`);
    expect(await control('parameters.seed').inputValue()).toBe('1,2,3');
    const models = page.getByRole('group', { name: /^model/ });
    expect(await models.getByLabel('resnet').isChecked()).toBe(true);
    expect(await models.getByLabel('vit').isChecked()).toBe(true);
    await expect.poll(() => runCount().textContent(), { timeout: 15_000 }).toContain('6 runs');

    // Back to one run of each: a single launch that waits for the sweep.
    await page.getByRole('button', { name: 'Sweep seed', exact: true }).click();
    await page.getByRole('button', { name: 'Sweep model', exact: true }).click();
    await expect.poll(() => page.getByTestId('sweep-summary').count()).toBe(0);
    await page.getByTestId('run-after').locator('summary').click();
    const pick = control('dependsOnNew');
    await expect.poll(() => pick.locator('option', { hasText: `sweep #${sweepId}` }).count(), { timeout: 15_000 }).toBe(1);
    await pick.selectOption(`sweep:${sweepId}`);
    // aftercorr pairs two sweeps' tasks: not offered to a single launch.
    expect(await control('dependsOn.0').locator('option').allTextContents()).not.toContain('task by task (aftercorr)');
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 15_000 }).toContain('Checked');
    await page.getByText('Script preview').click();
    const { arrayJobId } = await sweep(sweepId);
    expect(await page.getByTestId('script-preview').textContent()).toContain(`--dependency=afterok:${arrayJobId}`);
    await shots('run-after', '[data-testid="run-after"]');
  });

  it('clones a task with its own overrides shown, editable, and sent', async () => {
    const { runs } = await sweep(sweepId);
    const task = runs[5].task.id;
    await open(`/projects/${app.projectId}/launch?clone=${task}`);
    await expect.poll(() => page.getByTestId('clone-banner').textContent(), { timeout: 20_000 }).toContain(`Clone of job #${task}`);
    // The run's group value is its group choice; its other value is kept as its own override.
    expect(await control('groups.model').inputValue()).toBe('vit');
    expect(await control('overrides.0').inputValue()).toBe('seed=3');
    await control('overrides.0').fill('seed=4');
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 15_000 }).toContain('Checked');
    await page.getByText('Script preview').click();
    const script = (await page.getByTestId('script-preview').textContent())!;
    expect(script).toContain('seed=4');
    expect(script).toContain('model=vit');
    await shots('task-clone', '[data-testid="kept-overrides"]');
  });
});
