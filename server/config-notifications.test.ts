// The notifications section of clusters.yaml: the VAPID subject sent with every push.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DEFAULT_VAPID_SUBJECT, loadConfig, notificationOptionNames } from './config.js';

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
  expect(load('').notifications).toEqual({ subject: DEFAULT_VAPID_SUBJECT, allowLoopbackHttpEndpoints: false });
  expect(DEFAULT_VAPID_SUBJECT).toMatch(/^mailto:[^@]+@[a-z0-9.-]+\.[a-z]+$/);
  expect(load('notifications:\n  subject: mailto:jdoe@hpc.example.edu\n').notifications).toEqual({ subject: 'mailto:jdoe@hpc.example.edu', allowLoopbackHttpEndpoints: false });
  expect(load('notifications:\n  subject: https://mc.example.org/contact\n').notifications).toEqual({ subject: 'https://mc.example.org/contact', allowLoopbackHttpEndpoints: false });
  expect(load('notifications:\n  allowLoopbackHttpEndpoints: true\n').notifications).toEqual({ subject: DEFAULT_VAPID_SUBJECT, allowLoopbackHttpEndpoints: true });
});

it('refuses subjects push services refuse (localhost, .local, not mailto:/https:), naming the field', () => {
  for (const subject of ['mailto:me@localhost', 'mailto:me@box.local', 'https://localhost:4000', 'http://mc.example.org', 'jdoe@hpc.example.edu', 'mailto:nobody']) {
    expect(loadError(`notifications:\n  subject: "${subject}"\n`)).toMatch(/field "notifications\.subject" must be a mailto: address or an https: URL/);
  }
  expect(loadError('notifications:\n  subjet: mailto:jdoe@hpc.example.edu\n')).toMatch(/unknown field "subjet" \(did you mean "subject"\?\) in notifications$/);
});

it('config/clusters.example.yaml documents every notifications option', () => {
  const example = readFileSync('config/clusters.example.yaml', 'utf8');
  expect(notificationOptionNames).toEqual(['subject', 'allowLoopbackHttpEndpoints']);
  expect(example).toMatch(/^#?\s*notifications:/m);
  expect(notificationOptionNames.filter((name) => !new RegExp(`^\\s*#?\\s*${name}:`, 'm').test(example))).toEqual([]);
});
