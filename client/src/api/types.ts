// The shapes the app reads, as its GraphQL documents select them (the contract is schema/schema.graphql).

export type JobState =
  | 'SUBMITTING'
  | 'SUBMIT_FAILED'
  | 'PENDING'
  | 'RUNNING'
  | 'COMPLETING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TIMEOUT'
  | 'OUT_OF_MEMORY'
  | 'NODE_FAIL'
  | 'PREEMPTED'
  | 'UNKNOWN';

export interface PartitionState {
  state: string;
  nodes: number;
}

export interface Partition {
  name: string;
  isDefault: boolean;
  available: boolean;
  nodes: number;
  states: PartitionState[];
}

export interface Cluster {
  name: string;
  host: string | null;
  reachable: boolean | null;
  latencyMs: number | null;
  slurmVersion: string | null;
  partitions: Partition[];
  error: string | null;
  checkedAt: string | null;
  stale: boolean;
  needsReauth: string | null;
  lastPollAt: string | null;
  lastPollError: string | null;
}

export interface GpuCounts {
  free: number;
  allocated: number;
  stranded: number;
  total: number;
  pendingDemand: number;
}

export interface GpuTypeAvailability extends GpuCounts {
  type: string;
}

export interface GpuPartitionAvailability extends GpuCounts {
  type: string;
  partition: string;
}

export interface GpuAvailability {
  cluster: string;
  fetchedAt: string;
  stale: boolean;
  lastError: string | null;
  refreshLimitedUntil: string | null;
  byType: GpuTypeAvailability[];
  byPartition: GpuPartitionAvailability[];
  nodesWithFreeGpus: Array<{ node: string; free: number; type: string; partitions: string[] }>;
  unavailableNodes: Array<{ node: string; state: string; gpus: number; reason: string | null; partitions: string[] }>;
}

export interface ProjectSummary {
  id: number;
  name: string;
  branch: string | null;
  headSha: string;
  headSubject: string;
  dirty: boolean;
  pushed: boolean;
  syncedAt: string;
}

/** A job as lists show it (and as jobUpdated delivers it). */
export interface JobSummary {
  id: number;
  projectId: number;
  name: string;
  description: string;
  tag: string;
  cluster: string;
  state: JobState;
  slurmState: string | null;
  slurmJobId: string | null;
  reason: string | null;
  exitCode: number | null;
  signal: number | null;
  nodeList: string | null;
  parentId: number | null;
  archived: boolean;
  wandbUrl: string | null;
  createdAt: string;
  submittedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  elapsedSeconds: number | null;
  submitError: string | null;
}

export interface GroupChoice {
  group: string;
  option: string | null;
}

export interface ParameterValue {
  path: string;
  value: unknown;
}

export interface JobInput {
  projectId: number;
  cluster: string;
  name: string | null;
  description: string;
  partition: string | null;
  account: string | null;
  qos: string | null;
  nodes: number;
  gpusPerNode: number;
  gpuType: string | null;
  cpusPerTask: number;
  memory: string;
  timeLimit: string;
  primary: string | null;
  groups: GroupChoice[];
  parameters: ParameterValue[];
  rawOverrides: string;
  parentJobId: number | null;
  allowUnpushed: boolean;
}

export interface JobDetail extends JobSummary {
  commitSha: string;
  branch: string | null;
  lastSeenAt: string | null;
  input: JobInput;
  project: { id: number; name: string; headSha: string };
}

/**
 * The schema's ByteOffset: a size or position in a file, a JSON number up to 2^53 − 1 (a log past 2 GiB keeps
 * exact offsets; a number holds them, a 32-bit Int would not).
 */
export type ByteOffset = number;

export interface JobLog {
  text: string;
  sizeBytes: ByteOffset | null;
  truncated: boolean;
  wandbUrl: string | null;
}

export interface JobLogChunk {
  jobId: number;
  fromByte: ByteOffset;
  text: string;
}

export type HydraValueType = 'BOOL' | 'DICT' | 'FLOAT' | 'INT' | 'LIST' | 'NULL' | 'STRING';

export interface HydraGroup {
  path: string;
  options: string[];
  default: string[];
  optional: boolean;
  package: string | null;
}

export interface HydraParameter {
  path: string;
  type: HydraValueType;
  default: unknown;
  readOnly: boolean;
  source: string;
}

export interface HydraConfig {
  configDir: string;
  primary: string;
  primaries: string[];
  hasExperimentSuffix: boolean;
  groups: HydraGroup[];
  parameters: HydraParameter[];
}

export interface ScriptPreview {
  script: string;
  tag: string;
  warnings: string[];
}

export interface JobTemplate {
  originalCommit: string;
  currentCommit: string;
  input: JobInput;
}

export interface LineageNode {
  parentId: number | null;
  changes: string[];
  job: JobSummary;
}

export interface Session {
  tokenName: string | null;
  readOnly: boolean;
  authRequired: boolean;
}

export interface PushDevice {
  endpoint: string;
  pendingAfterMinutes: number | null;
  mutedProjectIds: number[];
  createdAt: string;
}
