// The notifications section of clusters.yaml: the VAPID subject sent with every push, loopback test receivers, and how
// long a running job's GPUs must sit idle before a push says so.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DEFAULT_GPU_IDLE_MINUTES, DEFAULT_VAPID_SUBJECT, loadConfig, notificationOptionNames } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-push-config-'));
const load = (notifications: string) => {
  const file = join(dir, 'clusters.yaml');
  writeFileSync(file, `clusters:\n  here:\n    transport: local\n${notifications}`);
  return loadConfig(file);
};
const loadError = (notifications: string): string => {
  try {
    load(notifications);
  } catch (error) {
    expect((error as Error).message.split('\n')).toHaveLength(1);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
};

it('defaults to a subject on a public domain, and reads mailto: and https: subjects', () => {
  const defaults = { subject: DEFAULT_VAPID_SUBJECT, allowLoopbackHttpEndpoints: false, gpuIdleMinutes: 10 };
  expect(load('').notifications).toEqual(defaults);
  expect(DEFAULT_VAPID_SUBJECT).toMatch(/^mailto:[^@]+@[a-z0-9.-]+\.[a-z]+$/);
  expect(load('notifications:\n  subject: mailto:jdoe@hpc.example.edu\n').notifications).toEqual({ ...defaults, subject: 'mailto:jdoe@hpc.example.edu' });
  expect(load('notifications:\n  subject: https://mc.example.org/contact\n').notifications).toEqual({ ...defaults, subject: 'https://mc.example.org/contact' });
  expect(load('notifications:\n  allowLoopbackHttpEndpoints: true\n').notifications).toEqual({ ...defaults, allowLoopbackHttpEndpoints: true });
});

it('reads the GPU-idle window in minutes (10 by default, as the issue promises), fractions included, within 0.1 and 1440', () => {
  expect(DEFAULT_GPU_IDLE_MINUTES).toBe(10);
  expect(load('notifications:\n  gpuIdleMinutes: 30\n').notifications?.gpuIdleMinutes).toBe(30);
  expect(load('notifications:\n  gpuIdleMinutes: 0.25\n').notifications?.gpuIdleMinutes).toBe(0.25);
  expect(load('notifications:\n  gpuIdleMinutes: 0.1\n').notifications?.gpuIdleMinutes).toBe(0.1);
  expect(load('notifications:\n  gpuIdleMinutes: 1440\n').notifications?.gpuIdleMinutes).toBe(1440);
  expect(loadError('notifications:\n  gpuIdleMinutes: 0\n')).toMatch(/field "notifications\.gpuIdleMinutes" must be at least 0\.1 \(minutes\)$/);
  expect(loadError('notifications:\n  gpuIdleMinutes: 1441\n')).toMatch(/field "notifications\.gpuIdleMinutes" must be at most 1440 \(minutes: a day\)$/);
  expect(loadError('notifications:\n  gpuIdleMinutes: ten\n')).toMatch(/field "notifications\.gpuIdleMinutes" must be a number, not "ten"$/);
  expect(loadError('notifications:\n  gpuIdleMinute: 5\n')).toMatch(/unknown field "gpuIdleMinute" \(did you mean "gpuIdleMinutes"\?\) in notifications$/);
});

it('refuses subjects push services refuse (localhost, .local, not mailto:/https:), naming the field', () => {
  for (const subject of ['mailto:me@localhost', 'mailto:me@box.local', 'https://localhost:4000', 'http://mc.example.org', 'jdoe@hpc.example.edu', 'mailto:nobody']) {
    expect(loadError(`notifications:\n  subject: "${subject}"\n`)).toMatch(/field "notifications\.subject" must be a mailto: address or an https: URL/);
  }
  expect(loadError('notifications:\n  subjet: mailto:jdoe@hpc.example.edu\n')).toMatch(/unknown field "subjet" \(did you mean "subject"\?\) in notifications$/);
});

it('config/clusters.example.yaml documents every notifications option', () => {
  const example = readFileSync('config/clusters.example.yaml', 'utf8');
  expect(notificationOptionNames).toEqual(['subject', 'allowLoopbackHttpEndpoints', 'gpuIdleMinutes']);
  expect(example).toMatch(/^#?\s*notifications:/m);
  expect(notificationOptionNames.filter((name) => !new RegExp(`^\\s*#?\\s*${name}:`, 'm').test(example))).toEqual([]);
});
