// A self-signed certificate made the way a user makes one (openssl), for the HTTPS suites: the server's own TLS, the
// PWA over it in Chromium, and Caddy in front of the server.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SelfSigned {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** base64 SHA-256 of the public key: Chromium trusts exactly this key with --ignore-certificate-errors-spki-list. */
  spki: string;
}

/** A certificate with CN `name` for the given names (DNS names or IP addresses), valid for two days. */
export function selfSigned(dir: string, name: string, hosts: string[] = ['127.0.0.1']): SelfSigned {
  const certFile = join(dir, `${name}.cert.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  const altNames = hosts.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${altNames}`], { stdio: 'ignore' });
  const publicKey = execFileSync('openssl', ['x509', '-pubkey', '-noout', '-in', certFile]);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: publicKey });
  const spki = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), spki };
}
