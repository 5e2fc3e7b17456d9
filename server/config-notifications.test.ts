// The notifications section of clusters.yaml: the VAPID subject sent with every push, loopback test receivers, how
// long a running job's GPUs must sit idle before a push says so, and the destinations beyond Web Push (ntfy, webhooks,
// email) with their secrets named by file or variable, never written in.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DESTINATION_EVENTS, DEFAULT_GPU_IDLE_MINUTES, DEFAULT_VAPID_SUBJECT, destinationOptionNames, loadConfig, notificationOptionNames } from './config.js';

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
  const defaults = { subject: DEFAULT_VAPID_SUBJECT, allowLoopbackHttpEndpoints: false, gpuIdleMinutes: 10, destinations: {} };
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
  expect(notificationOptionNames).toEqual(['subject', 'allowLoopbackHttpEndpoints', 'gpuIdleMinutes', 'destinations']);
  expect(example).toMatch(/^#?\s*notifications:/m);
  expect(notificationOptionNames.filter((name) => !new RegExp(`^\\s*#?\\s*${name}:`, 'm').test(example))).toEqual([]);
});

// A secret for the destinations below, readable by its owner only (as the config demands).
const secretFile = (name: string, text: string, mode = 0o600) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
};

describe('notification destinations', () => {
  it('reads an ntfy topic, a webhook and an email destination, with the default notices (job and sweep ends, re-login)', () => {
    const token = secretFile('ntfy-token', 'tk_0123456789\n');
    process.env.MC_TEST_HOOK = 'https://hooks.slack.com/services/T0/B0/secretpath';
    const config = load(
      `notifications:\n  destinations:\n` +
        `    phone:\n      type: ntfy\n      url: https://ntfy.sh/mc-topic\n      tokenFile: ntfy-token\n      priority: high\n      events: [jobEnd, metricNan]\n      mutedProjects: [scratch, 4]\n      pendingAfterMinutes: 90\n` +
        `    chat:\n      type: webhook\n      format: discord\n      urlEnv: MC_TEST_HOOK\n` +
        `    mail:\n      type: email\n      to: jdoe@uni.edu\n      from: "Mission Control <mc@uni.edu>"\n      smtp:\n        host: smtp.uni.edu\n`,
    );
    expect(DEFAULT_DESTINATION_EVENTS).toEqual(['jobEnd', 'sweepEnd', 'reauth']);
    expect(config.notifications?.destinations).toEqual({
      phone: { name: 'phone', type: 'ntfy', url: 'https://ntfy.sh/mc-topic', tokenFile: token, priority: 'high', events: ['jobEnd', 'metricNan'], mutedProjects: ['scratch', 4], pendingAfterMinutes: 90 },
      chat: { name: 'chat', type: 'webhook', format: 'discord', urlEnv: 'MC_TEST_HOOK', events: DEFAULT_DESTINATION_EVENTS, mutedProjects: [] },
      mail: { name: 'mail', type: 'email', to: ['jdoe@uni.edu'], from: 'Mission Control <mc@uni.edu>', smtp: { host: 'smtp.uni.edu', security: 'starttls' }, events: DEFAULT_DESTINATION_EVENTS, mutedProjects: [] },
    });
    // The config names where the secrets are; it never holds them.
    expect(JSON.stringify(config)).not.toMatch(/tk_0123456789|secretpath/);
  });

  it('refuses a token or password written into the config, naming the field and where it goes, never repeating it', () => {
    const token = loadError('notifications:\n  destinations:\n    phone:\n      type: ntfy\n      url: https://ntfy.sh/t\n      token: tk_inline_secret\n');
    expect(token).toMatch(/field "notifications\.destinations\.phone\.token" must not hold the secret itself: put it in a file \(tokenFile\) or an environment variable \(tokenEnv\)$/);
    const password = loadError('notifications:\n  destinations:\n    mail:\n      type: email\n      to: a@b.c\n      from: a@b.c\n      smtp:\n        host: smtp.b.c\n        user: a\n        password: hunter2-inline\n');
    expect(password).toMatch(/field "notifications\.destinations\.mail\.smtp\.password" must not hold the secret itself: put it in a file \(passwordFile\) or an environment variable \(passwordEnv\)$/);
    expect(token + password).not.toMatch(/tk_inline_secret|hunter2-inline/);
    // ntfy's ?auth= and a user:password in a URL are secrets written in too.
    expect(loadError('notifications:\n  destinations:\n    phone:\n      type: ntfy\n      url: https://ntfy.sh/t?auth=c2VjcmV0\n')).toMatch(/"notifications\.destinations\.phone\.url" must not carry a query \(\?auth=…\): put the token in tokenFile or tokenEnv$/);
    const userinfo = loadError('notifications:\n  destinations:\n    hook:\n      type: webhook\n      format: json\n      url: https://me:s3cret-pass@hooks.example.org/x\n');
    expect(userinfo).toMatch(/field "notifications\.destinations\.hook\.url" must not carry a user name or password/);
    expect(userinfo).not.toContain('s3cret-pass');
  });

  it('checks where each secret comes from: a file of its owner only, a variable that is set, one source', () => {
    secretFile('open-token', 'tk_x', 0o644);
    const ntfy = (extra: string) => `notifications:\n  destinations:\n    phone:\n      type: ntfy\n      url: https://ntfy.sh/t\n${extra}`;
    expect(loadError(ntfy('      tokenFile: open-token\n'))).toMatch(/"notifications\.destinations\.phone\.tokenFile" can be read by other users; run chmod 600 .*open-token$/);
    expect(loadError(ntfy('      tokenFile: missing-token\n'))).toMatch(/"notifications\.destinations\.phone\.tokenFile" names a file that cannot be read: .*missing-token$/);
    delete process.env.MC_TEST_UNSET;
    expect(loadError(ntfy('      tokenEnv: MC_TEST_UNSET\n'))).toMatch(/"notifications\.destinations\.phone\.tokenEnv" names the environment variable MC_TEST_UNSET, which is not set$/);
    const hook = (extra: string) => `notifications:\n  destinations:\n    hook:\n      type: webhook\n      format: slack\n${extra}`;
    expect(loadError(hook(''))).toMatch(/"notifications\.destinations\.hook\.url" is required \(or urlFile, or urlEnv: a webhook URL is itself a secret\)$/);
    process.env.MC_TEST_HOOK = 'https://hooks.slack.com/x';
    expect(loadError(hook('      url: https://a.example.org/x\n      urlEnv: MC_TEST_HOOK\n'))).toMatch(/"notifications\.destinations\.hook\.url" is given 2 times \(url, urlEnv\): give one$/);
    expect(loadError(hook('      url: https://a.example.org/x\n').replace('slack', 'teams'))).toMatch(/"notifications\.destinations\.hook\.format" /);
    const mail = (smtp: string) => `notifications:\n  destinations:\n    mail:\n      type: email\n      to: [a@b.c]\n      from: a@b.c\n      smtp:\n        host: smtp.b.c\n${smtp}`;
    secretFile('smtp-password', 'pw');
    expect(loadError(mail('        user: a\n        passwordFile: smtp-password\n        security: none\n'))).toMatch(/"notifications\.destinations\.mail\.smtp\.security" is none, which would send the password unencrypted/);
    expect(load(mail('        user: a\n        passwordFile: smtp-password\n        security: none\n').replace('smtp.b.c', '127.0.0.1')).notifications?.destinations?.mail).toMatchObject({ smtp: { security: 'none' } });
    expect(loadError(mail('        user: a\n'))).toMatch(/"notifications\.destinations\.mail\.smtp\.passwordFile" is required with a user \(or passwordEnv\)$/);
    expect(loadError(mail('').replace('a@b.c\n', 'not-an-address\n'))).toMatch(/"notifications\.destinations\.mail\.from" must be an email address/);
  });

  it('names a misspelt field of a destination with the right hint, and an unknown notice', () => {
    expect(loadError('notifications:\n  destinations:\n    phone:\n      type: ntfy\n      url: https://ntfy.sh/t\n      tokenfile: x\n')).toMatch(/unknown field "tokenfile" \(did you mean "tokenFile"\?\) in notifications\.destinations\.phone$/);
    expect(loadError('notifications:\n  destinations:\n    mail:\n      type: email\n      to: a@b.c\n      from: a@b.c\n      smtp:\n        host: h\n        securty: tls\n')).toMatch(/unknown field "securty" \(did you mean "security"\?\) in notifications\.destinations\.mail\.smtp$/);
    expect(loadError('notifications:\n  destinations:\n    phone:\n      type: ntfy\n      url: https://ntfy.sh/t\n      events: [jobEnd, jobEnds]\n')).toMatch(/field "notifications\.destinations\.phone\.events\.1" /);
    expect(loadError('notifications:\n  destinations:\n    phone:\n      type: pager\n')).toMatch(/field "notifications\.destinations\.phone\.type" /);
  });

  it('config/clusters.example.yaml documents every option of each kind of destination', () => {
    const example = readFileSync('config/clusters.example.yaml', 'utf8');
    // An alternative (tokenEnv beside tokenFile) is documented as a comment inside the commented example.
    const documented = (name: string) => new RegExp(`^\\s*#[\\s#]*${name}:`, 'm').test(example);
    const options = [...new Set(Object.values(destinationOptionNames).flat())];
    expect(options).toEqual(expect.arrayContaining(['url', 'tokenFile', 'tokenEnv', 'priority', 'urlFile', 'urlEnv', 'format', 'to', 'from', 'smtp', 'host', 'port', 'security', 'user', 'passwordFile', 'passwordEnv', 'events', 'mutedProjects']));
    expect(options.filter((name) => !documented(name))).toEqual([]);
  });
});
