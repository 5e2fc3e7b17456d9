import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterOptionNames, loadConfig, watchConfig } from './config.js';
import { ConfigError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-config-'));
const keyFile = join(dir, 'id_ed25519');
writeFileSync(keyFile, 'not really a key; only its readability is checked at load');

function configFile(text: string, name = 'clusters.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function loadError(text: string): string {
  const file = configFile(text);
  try {
    loadConfig(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfig', () => {
  it('fills documented defaults and expands relative key paths from the config directory', () => {
    const config = loadConfig(configFile(`clusters:\n  lab:\n    host: 127.0.0.1\n    port: 2222\n    user: mlops\n    identityFile: id_ed25519\n`));
    expect(config.clusters).toEqual([
      expect.objectContaining({ name: 'lab', transport: 'ssh2', host: '127.0.0.1', port: 2222, user: 'mlops', identityFile: keyFile, agent: false, connectTimeoutMs: 10_000, commandTimeoutMs: 30_000, maxChannels: 6, workspace: '~/mission-control' }),
    ]);
  });

  it('names file, cluster and field for a typo, with a suggestion', () => {
    const message = loadError(`clusters:\n  lab:\n    hots: 127.0.0.1\n    user: mlops\n    identityFile: ${keyFile}\n`);
    expect(message).toBe(`${join(dir, 'clusters.yaml')}: cluster "lab": unknown field "hots" (did you mean "host"?)`);
  });

  it('names the missing host', () => {
    expect(loadError(`clusters:\n  lab:\n    user: mlops\n    identityFile: ${keyFile}\n`)).toBe(`${join(dir, 'clusters.yaml')}: cluster "lab": field "host" is required`);
  });

  it('names a field with a bad value', () => {
    expect(loadError(`clusters:\n  lab:\n    host: h\n    user: u\n    identityFile: ${keyFile}\n    port: 70000\n`)).toMatch(/cluster "lab": field "port" .*65535/);
    expect(loadError(`clusters:\n  lab:\n    host: h\n    user: u\n    agent: true\n    hostKeyFingerprint: MD5:aa\n`)).toMatch(/cluster "lab": field "hostKeyFingerprint" must look like SHA256:/);
    expect(loadError(`clusters:\n  lab:\n    host: h\n    user: u\n    identityFile: ${join(dir, 'missing-key')}\n`)).toMatch(/cluster "lab": field "identityFile" names a file that cannot be read/);
    expect(loadError(`clusters:\n  lab:\n    transport: telnet\n`)).toMatch(/cluster "lab": field "transport" /);
    // A value of the wrong type is not a missing one.
    expect(loadError(`clusters:\n  lab:\n    transport: local\n    port: twenty-two\n`)).toBe(`${join(dir, 'clusters.yaml')}: cluster "lab": field "port" must be a number, not "twenty-two"`);
  });

  it('rejects bad cluster names, unknown top-level keys, broken YAML and a missing file', () => {
    expect(loadError(`clusters:\n  "Big Cluster":\n    transport: local\n`)).toMatch(/cluster "Big Cluster": invalid cluster name/);
    expect(loadError(`clusterz:\n  lab:\n    transport: local\n`)).toMatch(/unknown field "clusterz" \(did you mean "clusters"\?\)/);
    expect(loadError(`clusters:\n  lab:\n    host: [unclosed\n`)).toMatch(/clusters\.yaml:\d+:\d+: invalid YAML/);
    expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml: file not found/);
  });

  it("reads each user's own login: the cluster's connection with their account and keys, checked like the entry's own", () => {
    const lab = `clusters:\n  lab:\n    host: 127.0.0.1\n    user: mlops\n    identityFile: id_ed25519\n    logins:\n`;
    const config = loadConfig(configFile(`${lab}      alice:\n        user: alice_hpc\n        identityFile: id_ed25519\n      bob:\n        user: bob\n        agent: true\n`));
    expect(config.clusters[0]!.logins).toEqual({ alice: { user: 'alice_hpc', identityFile: keyFile, agent: false }, bob: { user: 'bob', agent: true } });
    expect(loadError(`${lab}      alice:\n        user: alice_hpc\n`)).toMatch(/cluster "lab": login "alice": field "identityFile" is required/);
    expect(loadError(`${lab}      alice:\n        user: alice_hpc\n        identityFile: missing_key\n`)).toMatch(/login "alice": field "identityFile" names a file that cannot be read: .*missing_key/);
    expect(loadError(`${lab}      Alice:\n        user: a\n        agent: true\n`)).toMatch(/Mission Control user name/);
    expect(loadError(`${lab}      alice:\n        user: a\n        agent: true\n        host: elsewhere\n`)).toMatch(/host/);
    expect(loadError(`clusters:\n  here:\n    transport: local\n    logins:\n      alice:\n        user: a\n`)).toMatch(/field "logins" does not apply to transport: local/);
  });

  it('accepts a local cluster without host or user', () => {
    expect(loadConfig(configFile(`clusters:\n  here:\n    transport: local\n`)).clusters[0]).toMatchObject({ name: 'here', transport: 'local' });
  });
});

it('config/clusters.example.yaml documents every cluster option', () => {
  const example = readFileSync('config/clusters.example.yaml', 'utf8');
  const undocumented = clusterOptionNames.filter((name) => !new RegExp(`^\\s*#?\\s*${name}:`, 'm').test(example));
  expect(undocumented).toEqual([]);
  expect(clusterOptionNames.length).toBeGreaterThan(10);
});

describe('watchConfig', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('delivers a valid edit and reports a broken one without replacing the config', async () => {
    const file = configFile(`clusters:\n  here:\n    transport: local\n`, 'watched.yaml');
    const changes: string[][] = [];
    const errors: string[] = [];
    const watcher = watchConfig(file, (config) => changes.push(config.clusters.map((c) => c.name)), (error) => errors.push(error.message));
    close = () => watcher.close();

    writeFileSync(file, `clusters:\n  here:\n    transport: local\n  there:\n    transport: local\n`);
    await expect.poll(() => changes, { timeout: 3000 }).toEqual([['here', 'there']]);
    writeFileSync(file, `clusters:\n  here:\n    transprt: local\n`);
    await expect.poll(() => errors, { timeout: 3000 }).toEqual([expect.stringContaining('unknown field "transprt"')]);
    expect(changes).toHaveLength(1);
  });
});
