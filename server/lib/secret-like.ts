// Text a person wrote for others to read (a cluster's connection help) must not carry a secret: it reaches every
// paired device and every push. A heuristic, for the obvious cases (a password after its name or flag, credentials in
// a URL, a private key, well-known token shapes); it names what it saw, never the value, so the refusal is safe to print.

// Names whose value is a secret when one is written after them.
const SECRET_NAME = '(?:password|passwd|passphrase|pwd|pass|secret|token(?:[_-]secret)?|api[_-]?key|cookie|otp)';
// Before a name in text: not a letter or digit, so VPN_TOKEN=… counts and bypass=… does not.
const NAME_START = '(?<![A-Za-z0-9])';

const SECRET_LIKE: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, 'a private key'],
  [/\bmc_[A-Za-z0-9_-]{43}\b/, 'a Mission Control API token'],
  [/\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/, 'a GitHub token'],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, 'an AWS access key'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\bsk-[A-Za-z0-9_-]{20,}/, 'an API key (sk-…)'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, 'a signed token (JWT)'],
  // https://jdoe:hunter2@vpn.example.edu (a user name alone is no secret).
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:[^\s/?#@]+@/i, 'a password in a URL'],
  [new RegExp(`[?&](?:${SECRET_NAME}|access_token|auth|sig|signature)=[^&#\\s]`, 'i'), 'a secret in a URL query'],
  // --password=hunter2, --token abc (but not --passwd-on-stdin or --token-mode=rsa, which are no values).
  [new RegExp(`(?:^|\\s)--?${SECRET_NAME}(?:=|\\s+)(?!-)[^\\s<>$]`, 'im'), 'a password or token after its option'],
  [/\bsshpass\s+(?:-\S+\s+)*-p\s*\S/, 'a password given to sshpass'],
  [/\b(?:echo|printf)\s+[^|\n]+\|[^\n]*(?:--passwd-on-stdin|--cookie-on-stdin|--password-stdin|\bkinit\b)/, 'a password piped into a login'],
  // password=hunter2 anywhere; "Password: hunter2" when the value ends the line and has a digit or symbol, so advice
  // such as "Password: your university one" or "2FA token: SecurID" is not taken for a secret.
  [new RegExp(`${NAME_START}${SECRET_NAME}\\s*=\\s*[^\\s<>]{3,}`, 'i'), 'a password or token (name=value)'],
  [new RegExp(`${NAME_START}${SECRET_NAME}\\s*:\\s*(?=[^\\s<>]*[^A-Za-z\\s<>])[^\\s<>]{6,}\\s*$`, 'im'), 'a password or token (name: value)'],
];

/** What secret `text` seems to hold ("a password in a URL"), or null. */
export function secretLike(text: string): string | null {
  return SECRET_LIKE.find(([pattern]) => pattern.test(text))?.[1] ?? null;
}
