// Packages that only some paths need are loaded when one of those paths runs, not by every start (bench/startup.ts
// measures the start): the terminal QR code (a first start, the token CLI), web-push (a key pair made once, a push
// sent) and ssh2 (the first connection, after the server already answers).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('importing the server (everything a start loads before it listens) loads neither qrcode, web-push nor ssh2', () => {
  // These are CommonJS packages: imported from ESM they still go through the CommonJS loader and its cache.
  const script = `await import('./server/main.ts');
const { createRequire } = await import('node:module');
const loaded = Object.keys(createRequire(import.meta.url).cache).map((file) => /node_modules\\/((@[^/]+\\/)?[^/]+)\\//.exec(file)?.[1]).filter(Boolean);
console.log(JSON.stringify([...new Set(loaded)]));`;
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const packages = JSON.parse(output.trim().split('\n').at(-1)!) as string[];
  // The check sees CommonJS packages at all (MikroORM is one), so an empty list cannot pass it by accident.
  expect(packages).toContain('@mikro-orm/core');
  expect(packages).not.toContain('qrcode');
  expect(packages).not.toContain('web-push');
  expect(packages).not.toContain('ssh2');
});
