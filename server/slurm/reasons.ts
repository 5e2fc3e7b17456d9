// Why a job waits, in words, with what its owner can do about it: SLURM's pending reason (squeue %r) read for a person
// on a phone. The codes are those of Slurm's job_state_reason_string() (22.05–24.x, see
// https://slurm.schedmd.com/job_reason_codes.html); the hundred-odd accounting limits share one grammar
// (Assoc|QOS + Grp|Max|Min + resource + Minutes|RunMinutes + PerJob|PerNode|PerUser|PerAccount + Limit) and are read by
// it rather than listed. A reason not known here is given back as SLURM wrote it, never guessed at. Pure.

/** What the job asked for, to say what it waits for ("2 A100s") and which limit it meets. */
export interface WaitingRequest {
  nodes: number;
  gpusPerNode: number;
  gpuType: string | null;
  cpusPerTask: number;
  partition: string | null;
  account: string | null;
  qos: string | null;
}

export interface PendingReason {
  /** SLURM's words, as it wrote them ("ReqNodeNotAvail, UnavailableNodes:gpu-a100"). */
  reason: string;
  /** What the job waits for, in words; SLURM's words when the reason is not known here. */
  summary: string;
  /** What the owner can do; null when nothing is known to help (or the reason is not known here). */
  action: string | null;
  /** It will not start until someone changes something (the owner, the job, or the cluster's admins). */
  blocked: boolean;
  /** False: SLURM's words are passed on unexplained. */
  known: boolean;
}

interface Explanation {
  summary: string;
  action: string | null;
  blocked?: boolean;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** "2 A100s", "1 GPU", "3 nodes", "8 CPUs": the resources a waiting job needs, as a person names them. */
export function requestedResources(request: WaitingRequest): string {
  const gpus = request.gpusPerNode * request.nodes;
  if (gpus > 0) return plural(gpus, request.gpuType ? request.gpuType.toUpperCase() : 'GPU');
  if (request.nodes > 1) return plural(request.nodes, 'node');
  return plural(request.cpusPerTask, 'CPU');
}

const release = 'Release it (scontrol release <job id>) or cancel it.';
const relaunch = (what: string) => `It will not start as it is: cancel it and launch it again ${what}.`;

/** Explanations by reason code (lower case): the words SLURM uses before any comma. */
const FIXED: Record<string, (request: WaitingRequest, detail: string | null) => Explanation> = {
  priority: () => ({
    summary: 'other jobs are ahead of it in the queue',
    action: 'Nothing to do: it starts at its turn. A shorter time limit can let it start sooner, in a gap (backfill).',
  }),
  resources: (request) => ({
    summary: `waiting for ${requestedResources(request)}`,
    action: `Nothing to do: it starts when they are free. ${request.gpusPerNode > 0 ? 'Fewer GPUs, another GPU type' : 'Fewer resources'} or another partition may start sooner.`,
  }),
  reqnodenotavail: (_request, detail) => {
    const nodes = detail?.match(/UnavailableNodes:(\S+)/)?.[1];
    return {
      summary: `the nodes it can use are down, drained or reserved${nodes ? ` (${nodes})` : ''}`,
      action: 'It starts when they are back. If it waits long, launch it in another partition or without naming those nodes.',
    };
  },
  // Older Slurm's words for ReqNodeNotAvail, spaces made underscores: "Nodes_required_for_job_are_DOWN,_DRAINED_or…".
  nodes_required_for_job_are_down: (request, detail) => FIXED.reqnodenotavail!(request, detail),
  nodedown: () => ({ summary: 'a node it needs is down', action: 'It starts when the node is back; or cancel and launch it elsewhere.' }),
  frontenddown: () => ({ summary: 'the front end node is down', action: 'Ask the cluster’s admins.', blocked: true }),
  partitiontimelimit: (request) => ({
    summary: `its time limit is longer than ${partitionName(request)} allows`,
    action: relaunch('with a shorter time limit (or in a partition that allows it)'),
    blocked: true,
  }),
  partitionnodelimit: (request) => ({
    summary: `it asks for more nodes than ${partitionName(request)} allows, or the nodes it needs are down`,
    action: relaunch('on fewer nodes or in another partition'),
    blocked: true,
  }),
  partitiondown: (request) => ({ summary: `${partitionName(request)} is down`, action: 'It starts when the admins bring it back; or cancel and launch it in another partition.', blocked: true }),
  partitioninactive: (request) => ({ summary: `${partitionName(request)} is not scheduling jobs now`, action: 'It starts when the partition is up again; or launch it in another partition.', blocked: true }),
  partitionconfig: (request) => ({ summary: `the request does not fit how ${partitionName(request)} is set up`, action: relaunch('with other resources or in another partition'), blocked: true }),
  dependency: () => ({ summary: 'waiting for the jobs it depends on', action: 'Nothing to do: it starts when they end as it asked.' }),
  dependencyneversatisfied: () => ({
    summary: 'a job it depends on ended in a way that can never satisfy it',
    action: 'It will never start: cancel it, or launch it again without that dependency.',
    blocked: true,
  }),
  begintime: () => ({ summary: 'waiting for the start time it was given', action: null }),
  jobheldadmin: () => ({ summary: 'held by an administrator', action: 'Only the cluster’s admins can release it: ask them why, or cancel it.', blocked: true }),
  jobhelduser: () => ({ summary: 'held (by you or by its launch)', action: release, blocked: true }),
  jobholdmaxrequeue: () => ({ summary: 'held after being requeued too many times', action: `Look at its log for why it keeps failing. ${release}`, blocked: true }),
  'launch failed requeued held': () => ({
    summary: 'its launch failed on a node, so SLURM put it back in the queue and held it',
    action: `${release} If it happens again, tell the admins which node.`,
    blocked: true,
  }),
  reservation: () => ({ summary: 'waiting for its reservation to begin', action: 'Nothing to do: it starts when the reservation does.' }),
  reservationdeleted: () => ({ summary: 'the reservation it was launched into was deleted', action: relaunch('without the reservation'), blocked: true }),
  reservationinvalid: () => ({ summary: 'the reservation it asks for is not valid for it', action: relaunch('without the reservation'), blocked: true }),
  invalidaccount: (request) => ({ summary: `${request.account ? `account ${request.account}` : 'its account'} is not valid for you`, action: relaunch('with an account you belong to'), blocked: true }),
  invalidqos: (request) => ({ summary: `${request.qos ? `QOS ${request.qos}` : 'its QOS'} is not valid for you`, action: relaunch('with a QOS your account may use'), blocked: true }),
  accountnotallowed: (request) => ({ summary: `${partitionName(request)} does not accept ${request.account ? `account ${request.account}` : 'its account'}`, action: relaunch('with another account or partition'), blocked: true }),
  qosnotallowed: (request) => ({ summary: `${partitionName(request)} does not accept ${request.qos ? `QOS ${request.qos}` : 'its QOS'}`, action: relaunch('with another QOS or partition'), blocked: true }),
  licenses: () => ({ summary: 'waiting for licenses', action: 'Nothing to do: it starts when the licenses it asks for are free.' }),
  jobarraytasklimit: () => ({ summary: 'waiting for earlier tasks of its sweep (its throttle)', action: 'Nothing to do: it starts as earlier tasks end. A larger throttle runs more at once.' }),
  badconstraints: () => ({ summary: 'no node has the features it asks for', action: relaunch('with other constraints'), blocked: true }),
  constraints: () => ({ summary: 'no node has the features it asks for', action: relaunch('with other constraints'), blocked: true }),
  maxmemperlimit: () => ({ summary: 'it asks for more memory per CPU or node than allowed', action: relaunch('with less memory'), blocked: true }),
  cleaning: () => ({ summary: 'its nodes are being cleaned up after its previous run', action: 'Nothing to do: it starts again shortly.' }),
  prolog: () => ({ summary: 'its nodes are being prepared', action: null }),
  scheddefer: () => ({ summary: 'the scheduler put it off until its next pass', action: 'Nothing to do.' }),
  burstbufferresources: () => ({ summary: 'waiting for burst buffer space', action: null }),
  burstbufferstagein: () => ({ summary: 'its data is being staged in', action: null }),
  powernotavail: () => ({ summary: 'waiting for power to run it', action: null }),
  powerreserved: () => ({ summary: 'waiting for power reserved for other jobs', action: null }),
  fedjoblock: () => ({ summary: 'waiting for the federation to agree where it runs', action: null }),
  deadline: () => ({ summary: 'it can no longer end before its deadline', action: relaunch('with a later deadline or a shorter time limit'), blocked: true }),
  accountingpolicy: () => ({ summary: 'an accounting limit of your account or QOS holds it', action: 'Ask the admins which limit (sacctmgr show assoc / qos), or wait for your other jobs to end.' }),
  qosusagethreshold: () => ({ summary: 'its QOS has used up its share for now', action: 'It starts when the QOS’s usage decays; or use another QOS.' }),
  // Limits as Slurm before 2.6 named them.
  associationjoblimit: () => limitInUse('your account', 'running jobs'),
  associationresourcelimit: () => limitInUse('your account', 'resources'),
  associationtimelimit: () => ({ summary: 'your account’s time budget is used up', action: 'Ask the admins to raise it, or use another account.', blocked: true }),
  qosjoblimit: () => limitInUse('its QOS', 'running jobs'),
  qosresourcelimit: () => limitInUse('its QOS', 'resources'),
  qostimelimit: () => ({ summary: 'its QOS’s time budget is used up', action: 'Ask the admins to raise it, or use another QOS.', blocked: true }),
};

function limitInUse(whose: string, what: string): Explanation {
  return { summary: `${whose} already has as many ${what} as its limit allows`, action: 'Nothing to do: it starts when jobs under the same limit end.' };
}

const partitionName = (request: WaitingRequest) => (request.partition ? `partition ${request.partition}` : 'its partition');

// The accounting limits' grammar: scope, kind, resource, budget, per what, and SLURM's suffix.
const LIMIT = /^(Assoc|QOS)?(Grp|Max|Min)(CPU|Cpu|Memory|Mem|Node|GRES|Energy|License|BB|Billing|Unknown|SubmitJobs?|Jobs?|WallDuration|Wall)(RunMinutes|Minutes)?(PerJob|PerNode|PerUser|PerAccount)?(Limit|NotSatisfied)?$/;

// Each resource as a limit names it ("your GPU limit") and as a request counts it ("fewer GPUs").
const RESOURCE_WORDS: Record<string, [limit: string, many: string]> = {
  cpu: ['CPU', 'CPUs'],
  memory: ['memory', 'memory'],
  mem: ['memory', 'memory'],
  node: ['node', 'nodes'],
  gres: ['GPU', 'GPUs'],
  energy: ['energy', 'energy'],
  license: ['license', 'licenses'],
  bb: ['burst buffer', 'burst buffer'],
  billing: ['billing', 'billing units'],
  unknown: ['resource', 'resources'],
  job: ['running-job', 'jobs'],
  jobs: ['running-job', 'jobs'],
  submitjob: ['queued-job', 'jobs'],
  submitjobs: ['queued-job', 'jobs'],
  wall: ['time', 'time'],
  wallduration: ['time', 'time'],
};

function explainLimit(code: string, request: WaitingRequest): Explanation | null {
  const match = LIMIT.exec(code);
  if (!match) return null;
  const [, scope, kind, resource, budget, per] = match as unknown as [string, string | undefined, 'Grp' | 'Max' | 'Min', string, string | undefined, string | undefined];
  const [limit, many] = RESOURCE_WORDS[resource.toLowerCase()]!;
  const account = request.account ? `account ${request.account}` : 'your account';
  const qos = request.qos ? `QOS ${request.qos}` : 'its QOS';
  // Max…PerAccount without a scope is a QOS's per-account limit.
  const where = scope === 'Assoc' ? account : qos;
  const other = scope === 'Assoc' ? 'account' : 'QOS';
  const fewer = ['memory', 'energy', 'burst buffer'].includes(many) ? 'less' : 'fewer';
  if (kind === 'Min') return { summary: `it asks for ${fewer} ${many} than ${where} requires`, action: relaunch(`with more ${many} or another QOS`), blocked: true };
  if (per === 'PerJob' || per === 'PerNode') {
    const each = per === 'PerJob' ? 'per job' : 'per node';
    if (budget) return { summary: `its ${limit}-minutes (${many} × time limit) are more than ${where} allows ${each}`, action: relaunch('with a shorter time limit or fewer resources'), blocked: true };
    if (limit === 'time') return { summary: `its time limit is longer than ${where} allows`, action: relaunch(`with a shorter time limit or another ${other}`), blocked: true };
    return { summary: `it asks for more ${many} than ${where} allows ${each}`, action: relaunch(`with ${fewer} ${many} or another ${other}`), blocked: true };
  }
  if (budget === 'Minutes' || limit === 'time') {
    return { summary: `the ${limit === 'time' ? 'time' : `${limit}-minutes`} budget of ${where} is used up`, action: `It waits until the budget is raised or its use decays: ask the admins, or launch with another ${other}.`, blocked: true };
  }
  // Whose jobs fill the limit: everyone's under it (Grp), or yours, or your account's under the QOS (Max).
  const whose = kind === 'Grp' ? `the ${limit} limit of ${where}` : per === 'PerAccount' ? `your account’s ${limit} limit in ${qos}` : `your ${limit} limit in ${where}`;
  const freed = kind === 'Grp' ? 'other jobs under that limit end' : 'one of your running jobs ends';
  if (budget === 'RunMinutes') {
    return { summary: `running jobs use all of ${whose.replace(' limit', '-minutes limit')}`, action: 'Nothing to do: it starts as running jobs under that limit end. A shorter time limit fits sooner.' };
  }
  if (limit === 'queued-job') return { summary: `${whose} is reached`, action: 'Cancel some of your queued jobs, or wait for them to start.' };
  if (limit === 'running-job') return { summary: `${whose} is reached`, action: `Nothing to do: it starts when ${freed}.` };
  const waitingFor = limit === 'GPU' && request.gpusPerNode > 0 ? `waiting for ${requestedResources(request)}: ` : '';
  return { summary: `${waitingFor}${whose} is in use`, action: `Nothing to do: it starts when ${freed}. ${fewer.charAt(0).toUpperCase()}${fewer.slice(1)} ${many} may fit sooner.` };
}

/** SLURM's reason code: its words before any comma ("ReqNodeNotAvail" of "ReqNodeNotAvail, UnavailableNodes:gpu-a100"). */
export function reasonCode(reason: string): string {
  return reason.trim().split(',')[0]!.trim();
}

/** SLURM's pending reason explained for the job that waits; an unknown reason comes back as SLURM wrote it. */
export function explainPendingReason(reason: string, request: WaitingRequest): PendingReason {
  const text = reason.trim();
  const code = reasonCode(text);
  const comma = text.indexOf(',');
  const detail = comma >= 0 ? text.slice(comma + 1).trim() : null;
  const lower = code.toLowerCase();
  const fixed = Object.hasOwn(FIXED, lower) ? FIXED[lower] : undefined;
  const explained = fixed ? fixed(request, detail) : explainLimit(code, request);
  if (!explained) return { reason: text, summary: text, action: null, blocked: false, known: false };
  return { reason: text, summary: explained.summary, action: explained.action, blocked: explained.blocked ?? false, known: true };
}
