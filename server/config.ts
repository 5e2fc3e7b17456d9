// clusters.yaml: read once at start, validated, handed to services as a typed object; re-read when the file
// changes (a bad edit is reported and the running config kept). The only module that reads config/.
import { accessSync, constants, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { isLoopbackHost } from './access/session.js';
import { ConfigError } from './errors.js';
import { secretLike } from './lib/secret-like.js';

const CLUSTER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

// Connection help is shown on the cluster's card to every paired device (read-only ones too) and in the re-login
// push, so it must never hold a secret: what looks like one is refused, and the refusal names the kind, not the value.
const noSecret = (text: string, context: z.core.$RefinementCtx<string>) => {
  const kind = secretLike(text);
  if (kind) context.addIssue({ code: 'custom', message: `looks like it holds ${kind}: connection help is shown to every paired device and in pushes, so it must never hold a secret` });
};

const helpText = (maxLength: number, maxLines: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(maxLength, `must be at most ${maxLength} characters`)
    .refine((text) => text.split('\n').length <= maxLines, maxLines === 1 ? 'must be one line' : `must be at most ${maxLines} lines`)
    .superRefine(noSecret);

/** Limits of a cluster's connection help: a lock screen's line for the VPN command, a card's worth of steps. */
export const CONNECTION_HELP_LIMITS = { vpn: 200, steps: 1000, stepsLines: 15, link: 500 } as const;

const connectionHelpSchema = z
  .strictObject({
    /** The command that connects the server's machine to the cluster's network (`openconnect vpn.uni.edu`). */
    vpn: helpText(CONNECTION_HELP_LIMITS.vpn, 1).optional(),
    /** Anything else a person must do, in their own words. */
    steps: helpText(CONNECTION_HELP_LIMITS.steps, CONNECTION_HELP_LIMITS.stepsLines).optional(),
    /** The site's own instructions; opened in a new tab. */
    link: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .max(CONNECTION_HELP_LIMITS.link, `must be at most ${CONNECTION_HELP_LIMITS.link} characters`)
      .superRefine(noSecret)
      .optional(),
  })
  .refine((help) => help.vpn ?? help.steps ?? help.link, 'needs at least one of vpn, steps or link');

/** A Mission Control user's name (server/access/users.ts): the key of their own login under a cluster's `logins`. */
export const USER_NAME = /^[a-z][a-z0-9._-]{0,31}$/;
const loginUser = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'must be a login name');

/**
 * One Mission Control user's own account on a cluster (a group server): who they are there and how they prove it.
 * Everything else (host, port, host keys, timeouts, transport) is the cluster's.
 */
const loginSchema = z.strictObject({
  user: loginUser,
  identityFile: z.string().min(1).optional(),
  agent: z.union([z.boolean(), z.string().min(1)]).default(false),
  passwordFile: z.string().min(1).optional(),
  controlDir: z.string().min(1).optional(),
});
export type ClusterLoginConfig = z.infer<typeof loginSchema>;

const clusterSchema = z.strictObject({
  transport: z.enum(['ssh2', 'openssh', 'local']).default('ssh2'),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).default(22),
  user: loginUser.optional(),
  identityFile: z.string().min(1).optional(),
  agent: z.union([z.boolean(), z.string().min(1)]).default(false),
  passwordFile: z.string().min(1).optional(),
  knownHostsFile: z.string().min(1).optional(),
  hostKeyFingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must look like SHA256:<43 base64 characters>, as `ssh-keygen -lf` prints it').optional(),
  connectTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
  commandTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
  keepaliveIntervalMs: z.number().int().min(0).max(300_000).default(15_000),
  keepaliveCountMax: z.number().int().min(1).max(100).default(3),
  maxChannels: z.number().int().min(1).max(9, 'must stay below sshd MaxSessions (10)').default(6),
  controlDir: z.string().min(1).default('~/.ssh/mission-control'),
  controlPersist: z.string().regex(/^(yes|(\d+[smhdw]?)+)$/i, 'must be yes or an ssh time such as 8h, 30m or 1h30m').default('8h'),
  requireMaster: z.boolean().default(false),
  workspace: z.string().regex(/^(~\/)?[A-Za-z0-9._\/-]+$/, 'must be a path of letters, digits, . _ - and / (it appears in #SBATCH lines)').default('~/mission-control'),
  gpuRequestStyle: z.enum(['gres', 'constraint', 'gpus']).default('gres'),
  allowedGpuTypes: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/, 'is not a GPU type name')).optional(),
  pollIntervalSeconds: z.number().int().min(5).max(3600).default(30),
  gpuCacheSeconds: z.number().int().min(1).max(3600).default(60),
  maxSweepRuns: z.number().int().min(1).max(100_000).default(1000),
  scriptTemplate: z.string().min(1).optional(),
  connectionHelp: connectionHelpSchema.optional(),
  /**
   * Other users' own logins, by their Mission Control user name. The entry's own user and keys are the first
   * admin's login (or everyone's on a single-user server).
   */
  logins: z.record(z.string().regex(USER_NAME, 'must be a Mission Control user name (npm run user -- list)'), loginSchema).default({}),
});

export type ConnectionHelp = z.infer<typeof connectionHelpSchema>;
/** Every option of a cluster's connectionHelp (config/clusters.example.yaml documents each one). */
export const connectionHelpOptionNames = Object.keys(connectionHelpSchema.shape);

/** Every option a cluster entry accepts (config/clusters.example.yaml documents each one). */
export const clusterOptionNames = Object.keys(clusterSchema.shape);

export const DEFAULT_VAPID_SUBJECT = 'mailto:mission-control@example.com';
/** The issue's "utilisation under 10 % for 10 minutes": long enough that a data loader's pause is not news. */
export const DEFAULT_GPU_IDLE_MINUTES = 10;

// Apple's push service refuses a subject whose host it cannot resolve (localhost, *.local) with 403 BadJwtToken,
// while the others accept it: refused here, where the mistake can be named, instead of failing on iPhones only.
function isVapidSubject(subject: string): boolean {
  let url: URL;
  try {
    url = new URL(subject);
  } catch {
    return false;
  }
  const host = url.protocol === 'mailto:' ? (/^[^@\s]+@([^@\s?]+)$/.exec(url.pathname)?.[1] ?? '') : url.protocol === 'https:' ? url.hostname : '';
  return /\./.test(host) && !/(^|\.)(localhost|local|localdomain|internal)$/i.test(host);
}

/** The notices a destination can be told: a device's own settings, by name (the same claims and mutes). */
export const NOTICE_EVENTS = ['jobEnd', 'sweepEnd', 'failedTask', 'requeue', 'timeLimit', 'metricNan', 'gpuIdle', 'reauth'] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];
/**
 * A channel several people read (a Slack room, a mailbox) hears what ends and what needs a person, not every NaN: the
 * rest is asked for by name. A device's own defaults differ (metricNan, gpuIdle, requeue on) as a phone is one person's.
 */
export const DEFAULT_DESTINATION_EVENTS: NoticeEvent[] = ['jobEnd', 'sweepEnd', 'reauth'];

const DESTINATION_NAME = CLUSTER_NAME;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z.string().regex(ENV_NAME, 'must be the name of an environment variable (letters, digits and _)');
const minutes = z
  .number()
  .int('must be a whole number of minutes')
  .min(1, 'must be at least 1 (minutes)')
  .max(7 * 24 * 60, `must be at most ${7 * 24 * 60} (minutes: a week)`)
  .optional();

// What every kind of destination shares: which notices it hears, as a device chooses its own.
const destinationCommon = {
  events: z.array(z.enum(NOTICE_EVENTS)).default(DEFAULT_DESTINATION_EVENTS),
  /** Projects (by name, or by id) whose notices this destination never hears. */
  mutedProjects: z.array(z.union([z.string().min(1), z.number().int().min(1)])).default([]),
  pendingAfterMinutes: minutes,
  startedAfterWaitMinutes: minutes,
};

const httpUrl = (what: string) =>
  z
    .url({ protocol: /^https?$/, error: `must be an http:// or https:// URL (${what})` })
    .refine((url) => !new URL(url).username && !new URL(url).password, 'must not carry a user name or password: put the secret in a file or an environment variable');

const ntfySchema = z.strictObject({
  type: z.literal('ntfy'),
  /** The topic's URL, as the ntfy app subscribes to it: https://ntfy.sh/my-topic, or a self-hosted server's. */
  url: httpUrl('the topic URL, such as https://ntfy.sh/my-topic').refine((url) => new URL(url).pathname.split('/').filter(Boolean).length >= 1, 'must end in the topic name (https://ntfy.sh/my-topic)'),
  tokenFile: z.string().min(1).optional(),
  tokenEnv: envName.optional(),
  /** ntfy's priority, 1 (min) to 5 (urgent); 3 is its default. */
  priority: z.union([z.number().int().min(1).max(5), z.enum(['min', 'low', 'default', 'high', 'urgent'])]).optional(),
  ...destinationCommon,
});

const webhookSchema = z.strictObject({
  type: z.literal('webhook'),
  /** Slack's, Discord's and Mattermost's webhook URLs are themselves the secret: urlFile or urlEnv keep them out of the config. */
  url: httpUrl('the webhook URL').optional(),
  urlFile: z.string().min(1).optional(),
  urlEnv: envName.optional(),
  format: z.enum(['slack', 'discord', 'mattermost', 'json']),
  ...destinationCommon,
});

const mailbox = z.string().regex(/^([^<>\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, 'must be an email address (jdoe@uni.edu, or "Name <jdoe@uni.edu>")');

const smtpSchema = z.strictObject({
  host: z.string().min(1),
  /** Default: 465 for tls, 587 for starttls, 25 for none. */
  port: z.number().int().min(1).max(65535).optional(),
  /** tls: TLS from the first byte (port 465); starttls: plain, then TLS that must succeed (587); none: no TLS at all. */
  security: z.enum(['tls', 'starttls', 'none']).default('starttls'),
  user: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  passwordEnv: envName.optional(),
});

const emailSchema = z.strictObject({
  type: z.literal('email'),
  to: z.union([mailbox, z.array(mailbox).min(1, 'must name at least one address')]).transform((to) => (Array.isArray(to) ? to : [to])),
  from: mailbox,
  smtp: smtpSchema,
  ...destinationCommon,
});

const destinationSchema = z.discriminatedUnion('type', [ntfySchema, webhookSchema, emailSchema], { error: 'must have a type: ntfy, webhook or email' });

/** A notification destination of the config, with its name; secrets are named by file or variable, never held. */
export type DestinationConfig = z.infer<typeof destinationSchema> & { name: string };
export type NtfyDestination = Extract<DestinationConfig, { type: 'ntfy' }>;
export type WebhookDestination = Extract<DestinationConfig, { type: 'webhook' }>;
export type EmailDestination = Extract<DestinationConfig, { type: 'email' }>;

/** Every option of each kind of destination (config/clusters.example.yaml documents each one). */
export const destinationOptionNames: Record<DestinationConfig['type'] | 'smtp', string[]> = {
  ntfy: Object.keys(ntfySchema.shape),
  webhook: Object.keys(webhookSchema.shape),
  email: Object.keys(emailSchema.shape),
  smtp: Object.keys(smtpSchema.shape),
};

// A secret written into the config would be read by everyone who reads the file (and its backups, and its diffs).
const INLINE_SECRETS: Record<string, [field: string, file: string, env: string]> = { token: ['token', 'tokenFile', 'tokenEnv'], password: ['password', 'passwordFile', 'passwordEnv'] };

/** Refuses `token:` or `password:` written in a destination, naming the field and where the secret goes instead. */
function refuseInlineSecrets(file: string, raw: unknown): void {
  const destinations = (raw as { notifications?: { destinations?: unknown } } | null)?.notifications?.destinations;
  if (!destinations || typeof destinations !== 'object') return;
  for (const [name, entry] of Object.entries(destinations)) {
    for (const [path, object] of [[`notifications.destinations.${name}`, entry], [`notifications.destinations.${name}.smtp`, (entry as { smtp?: unknown } | null)?.smtp]] as const) {
      if (!object || typeof object !== 'object') continue;
      for (const key of Object.keys(object)) {
        const secret = INLINE_SECRETS[key];
        if (secret) throw new ConfigError(`${file}: field "${path}.${secret[0]}" must not hold the secret itself: put it in a file (${secret[1]}) or an environment variable (${secret[2]})`);
      }
    }
  }
}

const notificationsSchema = z.strictObject({
  subject: z
    .string()
    .refine(isVapidSubject, 'must be a mailto: address or an https: URL on a public domain (push services refuse localhost and .local)')
    .default(DEFAULT_VAPID_SUBJECT),
  /** Accept http: push endpoints on this machine: for a local test receiver, never a real push service. */
  allowLoopbackHttpEndpoints: z.boolean().default(false),
  /** How long every GPU of a running job must stay idle before a push says so. */
  gpuIdleMinutes: z
    .number()
    .min(0.1, 'must be at least 0.1 (minutes)')
    .max(1440, 'must be at most 1440 (minutes: a day)')
    .default(DEFAULT_GPU_IDLE_MINUTES),
  /** Channels beyond Web Push: ntfy topics, Slack/Discord/Mattermost webhooks, email; each with its own notices. */
  destinations: z.record(z.string().regex(DESTINATION_NAME, 'destination names are lowercase letters, digits, - and _'), destinationSchema).default({}),
});

/** Every option of the notifications section (config/clusters.example.yaml documents each one). */
export const notificationOptionNames = Object.keys(notificationsSchema.shape);

// A browser origin as it sends it in the Origin header: scheme, host and port, nothing else.
const isOrigin = (value: string): boolean => {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
};

/** pino's levels, most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const serverSchema = z.strictObject({
  publicUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL (the address your phone opens)' })
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  corsOrigins: z.array(z.string().refine(isOrigin, 'must be origins such as https://app.example.org (scheme, host, port; no path)')).default([]),
  auth: z
    .strictObject({
      allowLoopbackWithoutToken: z.boolean().default(false),
      createTokenAtFirstStart: z.boolean().default(true),
    })
    .prefault({}),
  /** The server's own HTTPS: a certificate chain and its key, PEM files read at start and again when they change. */
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  /** Who may read GET /metrics: clients on this machine only (a Prometheus beside it), any API token, or nobody. */
  metricsAccess: z.enum(['loopback', 'token', 'off']).default('loopback'),
  /** The least severe log line written (MC_LOG_LEVEL overrides it). */
  logLevel: z.enum(LOG_LEVELS).default('info'),
});

const serverAuthOptionNames = Object.keys(serverSchema.shape.auth.unwrap().shape);
const serverTlsOptionNames = Object.keys(serverSchema.shape.tls.unwrap().shape);
/** Every option of the server section, nested ones included (config/clusters.example.yaml documents each one). */
export const serverOptionNames = [...Object.keys(serverSchema.shape), ...serverAuthOptionNames, ...serverTlsOptionNames];
/** The fields a nested section accepts, for "did you mean" hints. */
const sectionOptionNames: Record<string, string[]> = {
  server: Object.keys(serverSchema.shape),
  'server.auth': serverAuthOptionNames,
  'server.tls': serverTlsOptionNames,
  notifications: notificationOptionNames,
};
const clusterSectionOptionNames: Record<string, string[]> = { connectionHelp: connectionHelpOptionNames };

const configSchema = z.strictObject({
  clusters: z.record(z.string().regex(CLUSTER_NAME, 'cluster names are lowercase letters, digits, - and _'), clusterSchema),
  server: serverSchema.prefault({}),
  notifications: notificationsSchema.prefault({}),
});

export type ClusterConfig = z.infer<typeof clusterSchema> & { name: string };
export type ServerConfig = z.infer<typeof serverSchema>;
/** The server section's defaults: what a config without one, or one built by hand in a test, means. */
export const defaultServerConfig: ServerConfig = serverSchema.parse({});
/** As loadConfig fills it; a section built by hand (tests) may leave out gpuIdleMinutes and destinations. */
export type NotificationsConfig = Omit<z.infer<typeof notificationsSchema>, 'gpuIdleMinutes' | 'destinations'> & { gpuIdleMinutes?: number; destinations?: Record<string, DestinationConfig> };
export interface Config {
  file: string;
  clusters: ClusterConfig[];
  /** Access and addresses; read at start only (a change applies at the next start). Absent = defaults. */
  server?: ServerConfig;
  /** Web Push settings; absent in configs built by hand (tests), which then get the defaults. */
  notifications?: NotificationsConfig;
}

/** A cluster entry with the documented defaults filled in, as loadConfig would give it (no file checks). */
export function clusterConfig(name: string, entry: z.input<typeof clusterSchema>): ClusterConfig {
  return { ...clusterSchema.parse(entry), name };
}

/** The files of every login of the clusters (each entry's own and its users'): what redaction hides. */
export function clusterSecretFiles(clusters: ClusterConfig[]): Array<Pick<ClusterConfig, 'identityFile' | 'passwordFile'> & { knownHostsFile?: string }> {
  return clusters.flatMap((cluster) => [cluster, ...Object.values(cluster.logins)]);
}

/** The cluster reached as one user's own login: its account and keys, the cluster's everything else. */
export function connectionAs(cluster: ClusterConfig, login: ClusterLoginConfig): ClusterConfig {
  return { ...cluster, user: login.user, identityFile: login.identityFile, agent: login.agent, passwordFile: login.passwordFile, controlDir: login.controlDir ?? cluster.controlDir, logins: {} };
}

export function defaultConfigPath(): string {
  return resolve(process.env.MC_CONFIG ?? 'config/clusters.yaml');
}

function closestName(wrong: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
        diagonal = above;
      }
    }
    return row[b.length]!;
  };
  const best = candidates.map((name) => ({ name, score: distance(wrong, name) })).sort((x, y) => x.score - y.score)[0];
  return best && best.score <= Math.max(2, Math.floor(wrong.length / 3)) ? best.name : undefined;
}

function describeIssue(file: string, issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  const inCluster = path[0] === 'clusters' && path.length >= 2;
  const inDestination = path[0] === 'notifications' && path[1] === 'destinations' && path.length >= 3;
  const where = inCluster ? `cluster "${path[1]}": ` : '';
  const fieldPath = inCluster ? path.slice(2) : path;
  if (issue.code === 'unrecognized_keys') {
    const section = inCluster ? fieldPath.join('.') : path.join('.');
    const known = inCluster
      ? section
        ? (clusterSectionOptionNames[section] ?? [])
        : Object.keys(clusterSchema.shape)
      : inDestination
        ? destinationOptionNames[path.length > 3 ? 'smtp' : ((issue.input as { type?: DestinationConfig['type'] } | undefined)?.type ?? 'ntfy')] ?? []
        : (sectionOptionNames[section] ?? Object.keys(configSchema.shape));
    const fields = issue.keys.map((key) => {
      const hint = closestName(key, known);
      return `"${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
    });
    return `${file}: ${where}unknown field ${fields.join(', ')}${section ? ` in ${section}` : ''}`;
  }
  if (path[0] === 'clusters' && path.length === 2 && issue.code === 'invalid_key') {
    return `${file}: cluster "${path[1]}": invalid cluster name (lowercase letters, digits, - and _)`;
  }
  const field = fieldPath.join('.') || '(top level)';
  // A map's key (a user's name under logins) says what it must be, not zod's "Invalid key in record".
  if (issue.code === 'invalid_key' && issue.issues[0]) return `${file}: ${where}"${path.at(-1)}" in ${fieldPath.slice(0, -1).join('.')} ${issue.issues[0].message}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${file}: ${where}field "${field}" is required`;
  // Connection help is the one place a careless value could be a secret: its wrong values are not repeated.
  // So is a destination (a webhook's URL is its secret).
  const shown = fieldPath[0] === 'connectionHelp' || inDestination ? '' : `, not ${JSON.stringify(issue.input)}`;
  if (issue.code === 'invalid_type') return `${file}: ${where}field "${field}" must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}${shown}`;
  return `${file}: ${where}field "${field}" ${issue.message}`;
}

function expandLocalPath(path: string, configDir: string): string {
  if (path === '~' || path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(configDir, path);
}

/** Reads and validates a config file; throws one ConfigError whose message names file, cluster and field. */
/**
 * A connection's checks, with its paths made absolute (a cluster's own login, or a user's login merged into it by
 * connectionAs): what each transport needs, files that exist and can be read, secrets only their owner reads.
 */
function checkConnection(cluster: ClusterConfig, configDir: string, fail: (field: string, message: string) => ConfigError): void {
  if (cluster.transport !== 'local') {
    if (!cluster.host) throw fail('host', 'is required');
    if (!cluster.user) throw fail('user', 'is required');
  }
  if (cluster.transport === 'ssh2') {
    if (!cluster.identityFile && !cluster.agent && !cluster.passwordFile) throw fail('identityFile', 'is required (or set agent: true, or passwordFile)');
    if (cluster.requireMaster) throw fail('requireMaster', 'only applies to transport: openssh (ssh2 cannot use an OpenSSH master connection)');
  }
  if (cluster.transport === 'openssh') {
    if (cluster.hostKeyFingerprint) throw fail('hostKeyFingerprint', 'is not supported by transport: openssh (ssh has no option to pin a fingerprint); record the key in a known_hosts file and set knownHostsFile');
    if (cluster.passwordFile) throw fail('passwordFile', 'is not supported by transport: openssh (it runs ssh with BatchMode and never types a password); use requireMaster: true and log in once in a terminal');
  }
  for (const field of ['identityFile', 'knownHostsFile', 'scriptTemplate', 'passwordFile'] as const) {
    const value = cluster[field];
    if (!value) continue;
    cluster[field] = expandLocalPath(value, configDir);
    try {
      accessSync(cluster[field]!, constants.R_OK);
    } catch {
      throw fail(field, `names a file that cannot be read: ${cluster[field]}`);
    }
  }
  // Like ssh with a private key: a secret others can read is refused rather than used.
  if (cluster.passwordFile && (statSync(cluster.passwordFile).mode & 0o077) !== 0) {
    throw fail('passwordFile', `can be read by other users; run chmod 600 ${cluster.passwordFile}`);
  }
  cluster.controlDir = expandLocalPath(cluster.controlDir, configDir);
  // ssh binds the socket under a temporary name 17 characters longer than cm-%C (40 hex digits), and a Unix
  // socket path holds 103 bytes on macOS, 107 on Linux.
  const longestControlDir = (process.platform === 'darwin' ? 103 : 107) - '/cm-'.length - 40 - 17;
  if (cluster.transport === 'openssh' && Buffer.byteLength(cluster.controlDir) > longestControlDir) {
    throw fail('controlDir', `is too long for a Unix socket path (${cluster.controlDir}); use a directory of at most ${longestControlDir} bytes`);
  }
}

export function loadConfig(path: string): Config {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found (copy config/clusters.example.yaml to start)' : String(error);
    throw new ConfigError(`${file}: ${reason}`);
  }
  const document = parseDocument(text, { prettyErrors: true });
  const yamlError = document.errors[0];
  if (yamlError) {
    const position = yamlError.linePos?.[0];
    throw new ConfigError(`${file}${position ? `:${position.line}:${position.col}` : ''}: invalid YAML: ${yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const raw: unknown = document.toJS() ?? {};
  refuseInlineSecrets(file, raw);
  // With the input in each issue, a value of the wrong type is told apart from a missing one (both are invalid_type).
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    // A misspelt field also makes the real one "required": name the misspelling, it is the cause.
    const issues = [...parsed.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
    throw new ConfigError(describeIssue(file, issues[0]!));
  }

  const configDir = dirname(file);
  const clusters = Object.entries(parsed.data.clusters).map(([name, raw]): ClusterConfig => {
    const cluster = { ...raw, name };
    const fail = (field: string, message: string) => new ConfigError(`${file}: cluster "${name}": field "${field}" ${message}`);
    checkConnection(cluster, configDir, fail);
    if (cluster.transport === 'local' && Object.keys(cluster.logins).length > 0) {
      throw fail('logins', 'does not apply to transport: local (the server runs as one account on the login node)');
    }
    for (const [userName, login] of Object.entries(cluster.logins)) {
      const connection = connectionAs(cluster, login);
      checkConnection(connection, configDir, (field, message) => new ConfigError(`${file}: cluster "${name}": login "${userName}": field "${field}" ${message}`));
      // The login keeps only what it set, its paths made absolute as the check made them.
      for (const field of ['identityFile', 'passwordFile', 'controlDir'] as const) if (login[field]) login[field] = connection[field];
    }
    return cluster;
  });
  const destinations = Object.fromEntries(Object.entries(parsed.data.notifications.destinations).map(([name, raw]) => [name, checkDestination(file, configDir, name, raw)]));
  return { file, clusters, notifications: { ...parsed.data.notifications, destinations }, server: parsed.data.server };
}

/** A secret file is checked like a cluster's passwordFile (readable, by its owner only); a variable must be set. */
function checkSecretSource(fail: (field: string, message: string) => ConfigError, configDir: string, source: Record<string, unknown>, fileField: string, envField: string, required: boolean): void {
  const path = source[fileField] as string | undefined;
  const env = source[envField] as string | undefined;
  if (path && env) throw fail(fileField, `and ${envField} are both set: give one`);
  if (path) {
    const full = expandLocalPath(path, configDir);
    source[fileField] = full;
    try {
      accessSync(full, constants.R_OK);
    } catch {
      throw fail(fileField, `names a file that cannot be read: ${full}`);
    }
    if ((statSync(full).mode & 0o077) !== 0) throw fail(fileField, `can be read by other users; run chmod 600 ${full}`);
  }
  if (env && !process.env[env]) throw fail(envField, `names the environment variable ${env}, which is not set`);
  if (required && !path && !env) throw fail(fileField, `is required (or ${envField})`);
}

function checkDestination(file: string, configDir: string, name: string, raw: z.infer<typeof destinationSchema>): DestinationConfig {
  const destination: DestinationConfig = { ...raw, name };
  const fail = (field: string, message: string) => new ConfigError(`${file}: field "notifications.destinations.${name}.${field}" ${message}`);
  if (destination.type === 'ntfy') {
    // ntfy also takes its token as ?auth=: a secret in the URL, which is shown (host and topic) and logged.
    if (new URL(destination.url).search) throw fail('url', 'must not carry a query (?auth=…): put the token in tokenFile or tokenEnv');
    checkSecretSource(fail, configDir, destination, 'tokenFile', 'tokenEnv', false);
  } else if (destination.type === 'webhook') {
    const given = ['url', 'urlFile', 'urlEnv'].filter((field) => destination[field as 'url']);
    if (given.length !== 1) throw fail('url', given.length === 0 ? 'is required (or urlFile, or urlEnv: a webhook URL is itself a secret)' : `is given ${given.length} times (${given.join(', ')}): give one`);
    checkSecretSource(fail, configDir, destination, 'urlFile', 'urlEnv', false);
  } else {
    const smtp = { ...destination.smtp };
    destination.smtp = smtp;
    const smtpFail = (field: string, message: string) => fail(`smtp.${field}`, message);
    checkSecretSource(smtpFail, configDir, smtp, 'passwordFile', 'passwordEnv', false);
    const hasPassword = Boolean(smtp.passwordFile ?? smtp.passwordEnv);
    if (hasPassword && !smtp.user) throw smtpFail('user', 'is required with a password');
    if (smtp.user && !hasPassword) throw smtpFail('passwordFile', 'is required with a user (or passwordEnv)');
    // A password sent in the clear crosses every network between here and the mail server.
    if (hasPassword && smtp.security === 'none' && !isLoopbackHost(smtp.host)) throw smtpFail('security', 'is none, which would send the password unencrypted: use tls or starttls (none is for a relay on this machine)');
  }
  return destination;
}

/** The destinations of a config, in the file's order. */
export function configuredDestinations(config: Pick<Config, 'notifications'>): DestinationConfig[] {
  return Object.values(config.notifications?.destinations ?? {});
}

/**
 * Calls onChange with each new valid config after the file changes, and onError with a bad one (the caller keeps
 * the config it has). Watches the directory: editors replace files by rename, which a file watch would lose.
 */
export function watchConfig(file: string, onChange: (config: Config) => void, onError: (error: Error) => void): FSWatcher {
  let debounce: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(file), (_event, changed) => {
    if (changed !== basename(file)) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      try {
        onChange(loadConfig(file));
      } catch (error) {
        onError(error as Error);
      }
    }, 150);
  });
  watcher.on('close', () => clearTimeout(debounce));
  return watcher;
}

const defaultTemplate = fileURLToPath(new URL('../config/sbatch.template.sh', import.meta.url));

/** The sbatch template of a cluster: its own (scriptTemplate), else config/sbatch.template.sh. Read at each use so edits apply. */
export function readScriptTemplate(cluster: Pick<ClusterConfig, 'scriptTemplate'>): Promise<string> {
  return readFile(cluster.scriptTemplate ?? defaultTemplate, 'utf8');
}
