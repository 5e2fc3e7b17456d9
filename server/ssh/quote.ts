// The only place where values become shell text. Every remote command is an argv array; this function turns it
// into one POSIX-shell word list that the remote login shell parses back into exactly that argv.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new TypeError('a NUL byte cannot be passed through a shell');
  if (arg !== '' && SAFE_WORD.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('empty command');
  return argv.map(quoteArg).join(' ');
}
