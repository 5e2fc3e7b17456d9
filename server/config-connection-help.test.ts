// A cluster's connection help in clusters.yaml: what a person must do when the cluster cannot be reached (a VPN
// command, steps, a link), shown on the card and in the re-login push, so bounded and never a secret.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONNECTION_HELP_LIMITS, connectionHelpOptionNames, loadConfig } from './config.js';
import { ConfigError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-help-config-'));
const file = join(dir, 'clusters.yaml');
const load = (help: string) => {
  writeFileSync(file, `clusters:\n  hpc:\n    transport: local\n${help}`);
  return loadConfig(file).clusters[0]!;
};
const loadError = (help: string): string => {
  try {
    load(help);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message.split('\n')).toHaveLength(1);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
};
// YAML's double-quoted form, so any text can be written in one line.
const helpWith = (field: string, value: string) => `    connectionHelp:\n      ${field}: ${JSON.stringify(value)}\n`;

describe('connectionHelp', () => {
  it('is read with its three fields, trimmed, and absent when not given', () => {
    expect(load('').connectionHelp).toBeUndefined();
    const help = load(
      [
        '    connectionHelp:',
        '      vpn: "  sudo openconnect --user=jdoe --passwd-on-stdin vpn.uni.edu  "',
        '      steps: |',
        '        Off campus, connect the VPN first (Duo push on your phone).',
        '        2FA token: SecurID',
        '        Password: your university one',
        '      link: https://hpc.uni.edu/docs/vpn?lang=en',
        '',
      ].join('\n'),
    ).connectionHelp;
    expect(help).toEqual({
      vpn: 'sudo openconnect --user=jdoe --passwd-on-stdin vpn.uni.edu',
      steps: 'Off campus, connect the VPN first (Duo push on your phone).\n2FA token: SecurID\nPassword: your university one',
      link: 'https://hpc.uni.edu/docs/vpn?lang=en',
    });
    expect(load(helpWith('link', 'http://wiki/hpc-access')).connectionHelp).toEqual({ link: 'http://wiki/hpc-access' });
  });

  it('refuses a link that is not http(s), lengths and line counts beyond the limits, an empty help and unknown fields', () => {
    for (const link of ['javascript:alert(1)', 'file:///etc/passwd', 'ftp://files.uni.edu/vpn', 'vpn.uni.edu', 'data:text/html,hi']) {
      expect(loadError(helpWith('link', link))).toMatch(/cluster "hpc": field "connectionHelp\.link" must be an http:\/\/ or https:\/\/ URL$/);
    }
    expect(loadError(helpWith('link', `https://uni.edu/${'a'.repeat(CONNECTION_HELP_LIMITS.link)}`))).toMatch(/field "connectionHelp\.link" must be at most 500 characters$/);
    expect(loadError(helpWith('vpn', `openconnect ${'x'.repeat(CONNECTION_HELP_LIMITS.vpn)}`))).toMatch(/field "connectionHelp\.vpn" must be at most 200 characters$/);
    expect(loadError(helpWith('vpn', 'openconnect vpn.uni.edu\nssh login'))).toMatch(/field "connectionHelp\.vpn" must be one line$/);
    expect(loadError(helpWith('steps', 'x'.repeat(CONNECTION_HELP_LIMITS.steps + 1)))).toMatch(/field "connectionHelp\.steps" must be at most 1000 characters$/);
    expect(loadError(helpWith('steps', Array.from({ length: 16 }, (_, line) => `step ${line}`).join('\n')))).toMatch(/field "connectionHelp\.steps" must be at most 15 lines$/);
    expect(loadError(helpWith('vpn', '   '))).toMatch(/field "connectionHelp\.vpn" must not be empty$/);
    expect(loadError('    connectionHelp: {}\n')).toMatch(/cluster "hpc": field "connectionHelp" needs at least one of vpn, steps or link$/);
    expect(loadError('    connectionHelp:\n      vnp: openconnect vpn.uni.edu\n')).toMatch(/cluster "hpc": unknown field "vnp" \(did you mean "vpn"\?\) in connectionHelp$/);
    expect(loadError('    connectionHelp: openconnect vpn.uni.edu\n')).toMatch(/cluster "hpc": field "connectionHelp" must be an object$/);
  });

  // Each of these is a secret a hurried person might paste; the message names the kind and never the value.
  const secrets: Array<[field: string, text: string, kind: RegExp]> = [
    ['vpn', 'echo Hunter2secret | sudo openconnect --passwd-on-stdin vpn.uni.edu', /a password piped into a login/],
    ['vpn', 'openconnect --password=Hunter2secret vpn.uni.edu', /a password or token after its option/],
    ['vpn', 'openconnect --cookie Hunter2secret vpn.uni.edu', /a password or token after its option/],
    ['vpn', 'openconnect --token-mode=totp --token-secret=Hunter2secret vpn.uni.edu', /a password or token after its option/],
    ['vpn', 'sshpass -p Hunter2secret ssh jdoe@login.uni.edu', /a password given to sshpass/],
    ['steps', 'Log in to the portal.\nPassword: Hunter2secret!', /a password or token \(name: value\)/],
    ['steps', 'export VPN_TOKEN=Hunter2secret then run the script', /a password or token \(name=value\)/],
    ['steps', `Pair with mc_${'A'.repeat(43)} if asked`, /a Mission Control API token/],
    ['steps', `-----BEGIN OPENSSH PRIVATE KEY-----\nHunter2secret\n-----END OPENSSH PRIVATE KEY-----`, /a private key/],
    ['steps', `clone with ghp_Hunter2secret${'a'.repeat(30)}`, /a GitHub token/],
    ['link', 'https://jdoe:Hunter2secret@vpn.uni.edu/', /a password in a URL/],
    ['link', 'https://hpc.uni.edu/join?token=Hunter2secret', /a secret in a URL query/],
    ['link', 'https://hpc.uni.edu/x?jwt=eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.Hunter2secretSig', /a signed token \(JWT\)/],
  ];
  it.each(secrets)('refuses %s holding a secret: %s', (field, text, kind) => {
    const message = loadError(helpWith(field, text));
    expect(message).toMatch(new RegExp(`cluster "hpc": field "connectionHelp\\.${field}" looks like it holds `));
    expect(message).toMatch(kind);
    expect(message).toMatch(/so it must never hold a secret$/);
    expect(message).not.toContain('Hunter2secret');
  });

  it('never repeats a value of the wrong type (a PIN typed as a number)', () => {
    const message = loadError('    connectionHelp:\n      steps: 482913\n');
    expect(message).toMatch(/field "connectionHelp\.steps" must be a string$/);
    expect(message).not.toContain('482913');
  });

  it('keeps advice that only mentions passwords and tokens', () => {
    const advice = [
      'openconnect --user=jdoe --authgroup=Students --passwd-on-stdin vpn.uni.edu',
      'openconnect --token-mode=totp vpn.uni.edu',
      'openconnect --password <your password> vpn.uni.edu',
      'ssh -p 2222 jdoe@login.uni.edu',
      'kinit jdoe@UNI.EDU',
    ];
    for (const vpn of advice) expect(load(helpWith('vpn', vpn)).connectionHelp).toEqual({ vpn });
    const steps = 'Your password is the university one.\nToken: use the Duo app\nForgot your passphrase? Ask hpc-help@uni.edu';
    expect(load(helpWith('steps', steps)).connectionHelp).toEqual({ steps });
  });
});

it('config/clusters.example.yaml documents connectionHelp and each of its fields', () => {
  const example = readFileSync('config/clusters.example.yaml', 'utf8');
  expect(connectionHelpOptionNames).toEqual(['vpn', 'steps', 'link']);
  expect(example).toMatch(/^\s*#?\s*connectionHelp:/m);
  expect(connectionHelpOptionNames.filter((name) => !new RegExp(`^\\s*#?\\s*${name}:`, 'm').test(example))).toEqual([]);
});
