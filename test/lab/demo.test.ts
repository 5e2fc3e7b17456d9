// README's first command line, `npm run demo`, as a user runs it: lab up, PWA built, server printing its URL.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { labForSuite } from './lab-env.js';

const lab = labForSuite('lab demo test');

it.skipIf(!lab)('npm run demo serves the app and shows the lab cluster reachable', async () => {
  const demo = spawn('npm', ['run', 'demo'], {
    env: { ...process.env, MC_PORT: '0', MC_DATA_DIR: mkdtempSync(join(tmpdir(), 'mc-demo-')) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await expect.poll(() => /open (http:\/\/\S+)/.exec(output)?.[1], { timeout: 90_000, interval: 250 }).toBeTruthy();
    const url = /open (http:\/\/\S+)/.exec(output)![1]!;
    // A fresh data directory: the demo made the first token and printed its pairing link, which is all a user needs.
    await expect.poll(() => /(http:\/\/\S+)\/#pair=(mc_[A-Za-z0-9_-]{43})/.exec(output), { timeout: 10_000 }).toBeTruthy();
    const [, pairingBase, token] = /(http:\/\/\S+)\/#pair=(mc_[A-Za-z0-9_-]{43})/.exec(output)!;
    expect(pairingBase).toBe(url);
    expect(await (await fetch(url)).text()).toContain('<title>Mission Control</title>');
    expect((await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ clusters { name } }"}' })).status).toBe(401);
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ clusters { name reachable partitions { name } } projects { name pushed } }' }),
    });
    const { data } = (await response.json()) as any;
    expect(data.clusters).toEqual([{ name: 'lab', reachable: true, partitions: [{ name: 'gpu' }, { name: 'cpu' }] }]);
    // The sample project is there to launch from, its commit on a remote the lab can clone.
    expect(data.projects).toEqual([{ name: 'ml-project', pushed: true }]);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- npm run demo printed:\n${output}`);
  } finally {
    process.kill(-demo.pid!, 'SIGTERM');
  }
});
