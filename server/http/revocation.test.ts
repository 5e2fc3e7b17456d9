// Revoking a token cuts it off everywhere at once: its open SSE streams and WebSockets end, and its push devices hear
// nothing more, while another token's keep going. The revoke is done as a user does it: `npm run token -- revoke`, a
// separate process writing the same SQLite file the running server reads.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertProject } from '../../test/factories.js';
import { authHeaders, createTestToken } from '../../test/graphql-client.js';
import { overSse, overWebSocket } from '../../test/subscription-listeners.js';
import { startPushReceiver, type PushReceiver } from '../../test/push-receiver.js';
import { createApp } from './app.js';
import { clusterConfig, type Config } from '../config.js';
import { Job, type Project } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import type { JobInput } from '../jobs/input.js';
import { snapshot } from '../jobs/transitions.js';
import { createServices, type Services } from '../services.js';
import { createTokenService } from '../access/tokens.js';
import { refuseStream } from '../../test/fake-transport.js';
import { databaseArgs } from '../../test/database-engine.js';

const run = promisify(execFile);

describe('revoking a token', () => {
  let dataDir: string;
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let url: string;
  let project: Project;
  const receivers: PushReceiver[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mc-revocation-'));
    orm = await initOrm(join(dataDir, 'mission-control.sqlite'));
    const config: Config = {
      file: 'test.yaml',
      clusters: [clusterConfig('alpha', { host: 'alpha.example.edu', user: 'me', agent: true, keepaliveIntervalMs: 0 })],
      notifications: { subject: 'mailto:me@example.org', allowLoopbackHttpEndpoints: true },
    };
    services = createServices({
      orm,
      config,
      clusters: {
        // The notifier reads the log's last line for the push; nothing else reaches the cluster here.
        transportFactory: () => ({ exec: async () => ({ stdout: '6\nepoch\n', stderr: '', exitCode: 0, durationMs: 1 }), close: async () => undefined, stream: refuseStream }),
      },
      notify: { pendingCheckPattern: '0 0 0 1 1 *' },
    });
    await services.notify.start();
    app = createApp({ services });
    url = await app.start(0, '127.0.0.1');
    project = await insertProject(orm.em.fork());
  });
  afterAll(async () => {
    await app.stop();
    await services.close();
    await orm.close();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  async function job(state: Job['state']): Promise<Job> {
    const em = orm.em.fork();
    const tag = Math.random().toString(36).slice(2, 14).padEnd(12, '0');
    const row = em.create(Job, {
      tag,
      userId: 1,
      projectId: project.id,
      cluster: 'alpha',
      name: 'train',
      description: '',
      commitSha: 'a'.repeat(40),
      input: { projectId: project.id, cluster: 'alpha' } as JobInput,
      script: '#!/bin/bash\n',
      jobDir: `/home/me/mission-control/jobs/${tag}`,
      slurmJobId: String(1000 + Math.floor(Math.random() * 1000)),
      state,
      archived: false,
      createdAt: new Date(),
      updatedAt: new Date(),
      submittedAt: new Date(),
    });
    await em.flush();
    return row;
  }

  /** What the poller does when a job ends: save, then announce. */
  async function end(row: Job): Promise<void> {
    const em = orm.em.fork();
    const saved = await em.findOneOrFail(Job, { id: row.id });
    saved.state = 'COMPLETED';
    await em.flush();
    services.events.publish('job:updated', snapshot(saved));
  }

  async function device(token: string): Promise<PushReceiver> {
    const receiver = await startPushReceiver();
    receivers.push(receiver);
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({
        query: 'mutation($input: PushSubscriptionInput!) { registerPushSubscription(input: $input) { __typename } }',
        variables: { input: { endpoint: receiver.endpoint, ...receiver.keys } },
      }),
    });
    expect(await response.json()).toEqual({ data: { registerPushSubscription: { __typename: 'MutationRegisterPushSubscriptionSuccess' } } });
    return receiver;
  }

  it('ends its SSE streams and WebSockets and silences its push devices at once; other tokens are untouched', async () => {
    const doomed = await createTestToken(services, { name: 'stolen-phone' });
    const kept = await createTestToken(services, { name: 'my-laptop' });
    const listeners = {
      doomedSocket: await overWebSocket(url, doomed),
      doomedStream: await overSse(url, doomed),
      keptSocket: await overWebSocket(url, kept),
      keptStream: await overSse(url, kept),
    };
    // The four ask the same: one execution of each change serves them all, and the revoke still ends only its own.
    expect(app.subscriptionGroups()).toBe(1);
    const doomedDevice = await device(doomed);
    const keptDevice = await device(kept);

    // Before the revoke every one of them hears a job's end: the test can see a delivery.
    const before = await job('RUNNING');
    await end(before);
    for (const [name, listener] of Object.entries(listeners)) await expect.poll(() => listener.events.length, { message: name }).toBe(1);
    await doomedDevice.waitFor((message) => (message.json as { jobId?: number }).jobId === before.id);
    await keptDevice.waitFor((message) => (message.json as { jobId?: number }).jobId === before.id);

    // Quiet while the CLI runs: the cut must not wait for an event to notice.
    const cli = await run(process.execPath, ['--import', 'tsx', 'server/cli/token.ts', 'revoke', 'stolen-phone', '--data-dir', dataDir, ...(await databaseArgs(dataDir))], { cwd: join(import.meta.dirname, '..', '..') });
    expect(cli.stdout).toContain('revoked "stolen-phone"');
    const revokedAt = Date.now();

    await expect.poll(() => listeners.doomedSocket.ended?.code, { timeout: 2000 }).toBe(4401);
    await expect.poll(() => listeners.doomedStream.ended, { timeout: 2000 }).not.toBeNull();
    expect(listeners.doomedSocket.ended!.at - revokedAt).toBeLessThan(1000);
    expect(listeners.doomedStream.ended!.at - revokedAt).toBeLessThan(1000);
    expect(listeners.doomedStream.errors).toEqual(['the API token of this subscription was revoked']);

    const after = await job('RUNNING');
    await end(after);
    await expect.poll(() => listeners.keptSocket.events.length).toBe(2);
    await expect.poll(() => listeners.keptStream.events.length).toBe(2);
    await keptDevice.waitFor((message) => (message.json as { jobId?: number }).jobId === after.id);
    await services.notify.idle();
    expect(listeners.doomedSocket.events.map((event) => event.id)).toEqual([before.id]);
    expect(listeners.doomedStream.events.map((event) => event.id)).toEqual([before.id]);
    expect(doomedDevice.messages.map((message) => (message.json as { jobId?: number }).jobId)).toEqual([before.id]);
    expect(listeners.keptSocket.ended).toBeNull();
    expect(listeners.keptStream.ended).toBeNull();
    for (const listener of Object.values(listeners)) listener.stop();
  });

  it('a token made after the ids were read (in this process: no data_version change) is not taken for revoked', async () => {
    const first = await overSse(url, await createTestToken(services, { name: 'first-phone' }));
    await end(await job('RUNNING'));
    await expect.poll(() => first.events.length).toBe(1);
    const later = await overSse(url, await createTestToken(services, { name: 'later-phone' }));
    const row = await job('RUNNING');
    await end(row);
    await expect.poll(() => later.events.map((event) => event.id)).toEqual([row.id]);
    expect(later.errors).toEqual([]);
    expect(later.ended).toBeNull();
    first.stop();
    later.stop();
  });

  it('an event published in the same instant as the revoke is not delivered to it', async () => {
    const doomed = await createTestToken(services, { name: 'raced-phone' });
    const listener = await overSse(url, doomed);
    const row = await job('RUNNING');
    // Another connection revokes (as the CLI does) and the event is published right after, before the watch's next
    // look: only the check made as each event leaves can stop it.
    const other = await initOrm(join(dataDir, 'mission-control.sqlite'));
    try {
      await createTokenService({ orm: other }).revoke('raced-phone');
    } finally {
      await other.close();
    }
    await end(row);
    await expect.poll(() => listener.ended, { timeout: 2000 }).not.toBeNull();
    expect(listener.events).toEqual([]);
  });
});
