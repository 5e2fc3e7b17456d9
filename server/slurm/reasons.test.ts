import { describe, expect, it } from 'vitest';
import { explainPendingReason, requestedResources, type WaitingRequest } from './reasons.js';

const twoA100s: WaitingRequest = { nodes: 1, gpusPerNode: 2, gpuType: 'a100', cpusPerTask: 4, partition: 'gpu', account: null, qos: 'normal' };
const explain = (reason: string, request: WaitingRequest = twoA100s) => explainPendingReason(reason, request);

// Every reason Slurm's job_state_reason_string() can print (src/common/job_state_reason.c, 24.x; 22.05 has a subset),
// but "None", which the parsers read as no reason.
const SLURM_REASONS = `Prolog Priority Dependency Resources PartitionNodeLimit PartitionTimeLimit PartitionDown PartitionInactive
JobHeldAdmin JobHeldUser BeginTime Licenses AssociationJobLimit AssociationResourceLimit AssociationTimeLimit Reservation
ReqNodeNotAvail FrontEndDown SchedDefer NodeDown BadConstraints InvalidAccount InvalidQOS QOSUsageThreshold QOSJobLimit
QOSResourceLimit QOSTimeLimit Cleaning QOSNotAllowed AccountNotAllowed DependencyNeverSatisfied QOSGrpCpuLimit
QOSGrpCPUMinutesLimit QOSGrpCPURunMinutesLimit QOSGrpJobsLimit QOSGrpMemLimit QOSGrpNodeLimit QOSGrpSubmitJobsLimit
QOSGrpWallLimit QOSMaxCpuPerJobLimit QOSMaxCpuMinutesPerJobLimit QOSMaxNodePerJobLimit QOSMaxWallDurationPerJobLimit
QOSMaxCpuPerUserLimit QOSMaxJobsPerUserLimit QOSMaxNodePerUserLimit QOSMaxSubmitJobPerUserLimit QOSMinCpuNotSatisfied
AssocGrpCpuLimit AssocGrpCPUMinutesLimit AssocGrpCPURunMinutesLimit AssocGrpJobsLimit AssocGrpMemLimit AssocGrpNodeLimit
AssocGrpSubmitJobsLimit AssocGrpWallLimit AssocMaxJobsLimit AssocMaxCpuPerJobLimit AssocMaxCpuMinutesPerJobLimit
AssocMaxNodePerJobLimit AssocMaxWallDurationPerJobLimit AssocMaxSubmitJobLimit JobHoldMaxRequeue JobArrayTaskLimit
BurstBufferResources BurstBufferStageIn PowerNotAvail PowerReserved AssocGrpUnknown AssocGrpUnknownMinutes
AssocGrpUnknownRunMinutes AssocMaxUnknownPerJob AssocMaxUnknownPerNode AssocMaxUnknownMinutesPerJob AssocMaxCpuPerNode
AssocGrpMemMinutes AssocGrpMemRunMinutes AssocMaxMemPerJob AssocMaxMemPerNode AssocMaxMemMinutesPerJob AssocGrpNodeMinutes
AssocGrpNodeRunMinutes AssocMaxNodeMinutesPerJob AssocGrpEnergy AssocGrpEnergyMinutes AssocGrpEnergyRunMinutes
AssocMaxEnergyPerJob AssocMaxEnergyPerNode AssocMaxEnergyMinutesPerJob AssocGrpGRES AssocGrpGRESMinutes
AssocGrpGRESRunMinutes AssocMaxGRESPerJob AssocMaxGRESPerNode AssocMaxGRESMinutesPerJob AssocGrpLicense
AssocGrpLicenseMinutes AssocGrpLicenseRunMinutes AssocMaxLicensePerJob AssocMaxLicenseMinutesPerJob AssocGrpBB
AssocGrpBBMinutes AssocGrpBBRunMinutes AssocMaxBBPerJob AssocMaxBBPerNode AssocMaxBBMinutesPerJob QOSGrpUnknown
QOSGrpUnknownMinutes QOSGrpUnknownRunMinutes QOSMaxUnknownPerJob QOSMaxUnknownPerNode QOSMaxUnknownPerUser
QOSMaxUnknownMinutesPerJob QOSMinUnknown QOSMaxCpuPerNode QOSGrpMemoryMinutes QOSGrpMemoryRunMinutes QOSMaxMemoryPerJob
QOSMaxMemoryPerNode QOSMaxMemoryPerUser QOSMaxMemoryMinutesPerJob QOSMinMemory QOSGrpNodeMinutes QOSGrpNodeRunMinutes
QOSMaxNodeMinutesPerJob QOSMinNode QOSGrpEnergy QOSGrpEnergyMinutes QOSGrpEnergyRunMinutes QOSMaxEnergyPerJob
QOSMaxEnergyPerNode QOSMaxEnergyPerUser QOSMaxEnergyMinutesPerJob QOSMinEnergy QOSGrpGRES QOSGrpGRESMinutes
QOSGrpGRESRunMinutes QOSMaxGRESPerJob QOSMaxGRESPerNode QOSMaxGRESPerUser QOSMaxGRESMinutesPerJob QOSMinGRES
QOSGrpLicense QOSGrpLicenseMinutes QOSGrpLicenseRunMinutes QOSMaxLicensePerJob QOSMaxLicensePerUser
QOSMaxLicenseMinutesPerJob QOSMinLicense QOSGrpBB QOSGrpBBMinutes QOSGrpBBRunMinutes QOSMaxBBPerJob QOSMaxBBPerNode
QOSMaxBBPerUser QOSMinBB DeadLine MaxBBPerAccount MaxCpuPerAccount MaxEnergyPerAccount MaxGRESPerAccount
MaxNodePerAccount MaxLicensePerAccount MaxMemoryPerAccount MaxUnknownPerAccount MaxJobsPerAccount MaxSubmitJobsPerAccount
PartitionConfig AccountingPolicy FedJobLock MaxMemPerLimit AssocGrpBilling AssocGrpBillingMinutes
AssocGrpBillingRunMinutes AssocMaxBillingPerJob AssocMaxBillingPerNode AssocMaxBillingMinutesPerJob QOSGrpBilling
QOSGrpBillingMinutes QOSGrpBillingRunMinutes QOSMaxBillingPerJob QOSMaxBillingPerNode QOSMaxBillingPerUser
QOSMaxBillingMinutesPerJob MaxBillingPerAccount QOSMinBilling ReservationDeleted ReservationInvalid Constraints`.split(/\s+/);

describe('explainPendingReason', () => {
  it("says what a job waits for by what it asked for: SLURM's Resources", () => {
    expect(explain('Resources')).toMatchObject({ reason: 'Resources', summary: 'waiting for 2 A100s', blocked: false, known: true });
    expect(explain('Resources').action).toMatch(/^Nothing to do/);
    expect(explain('Resources', { ...twoA100s, nodes: 2, gpusPerNode: 4, gpuType: null }).summary).toBe('waiting for 8 GPUs');
    expect(explain('Resources', { ...twoA100s, gpusPerNode: 0, cpusPerTask: 1 }).summary).toBe('waiting for 1 CPU');
  });

  it.each([
    ['Priority', /ahead of it in the queue/, /starts at its turn/, false],
    ['QOSMaxGRESPerUser', /^waiting for 2 A100s: your GPU limit in QOS normal is in use$/, /one of your running jobs ends/, false],
    ['QOSMaxJobsPerUserLimit', /^your running-job limit in QOS normal is reached$/, /one of your running jobs ends/, false],
    ['AssocGrpGRES', /^waiting for 2 A100s: the GPU limit of your account is in use$/, /other jobs under that limit end/, false],
    ['AssocGrpCPUMinutesLimit', /CPU-minutes budget of your account is used up/, /ask the admins, or launch with another account/, true],
    ['ReqNodeNotAvail, UnavailableNodes:gpu-a100', /down, drained or reserved \(gpu-a100\)/, /another partition/, false],
    ['PartitionTimeLimit', /time limit is longer than partition gpu allows/, /shorter time limit/, true],
    ['Dependency', /waiting for the jobs it depends on/, /when they end/, false],
    ['DependencyNeverSatisfied', /can never satisfy it/, /never start: cancel it/, true],
    ['BeginTime', /start time it was given/, null, false],
    ['JobHeldUser', /^held/, /scontrol release/, true],
    ['JobHeldAdmin', /held by an administrator/, /admins/, true],
    ['launch failed requeued held', /launch failed on a node/, /scontrol release/, true],
    ['Reservation', /reservation to begin/, /when the reservation does/, false],
    ['QOSGrpGRES', /the GPU limit of QOS normal is in use/, /other jobs under that limit end/, false],
    ['AssocMaxJobsLimit', /your running-job limit in your account is reached/, /running jobs ends/, false],
    ['Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions', /down, drained or reserved$/, /another partition/, false],
    ['PartitionNodeLimit', /more nodes than partition gpu allows/, /fewer nodes/, true],
    ['PartitionDown', /partition gpu is down/, /another partition/, true],
    ['InvalidAccount', /its account is not valid/, /account you belong to/, true],
    ['InvalidQOS', /QOS normal is not valid/, /QOS your account may use/, true],
    ['QOSMaxWallDurationPerJobLimit', /time limit is longer than QOS normal allows/, /shorter time limit/, true],
    ['QOSMaxGRESPerJob', /more GPUs than QOS normal allows per job/, /fewer GPUs/, true],
    ['MaxGRESPerAccount', /your account’s GPU limit in QOS normal is in use/, /running jobs ends/, false],
    ['AssocGrpGRESRunMinutes', /running jobs use all of the GPU-minutes limit of your account/, /shorter time limit/, false],
    ['QOSMinCpuNotSatisfied', /fewer CPUs than QOS normal requires/, /more CPUs/, true],
    ['JobArrayTaskLimit', /earlier tasks of its sweep/, /throttle/, false],
  ])('%s', (reason, summary, action, blocked) => {
    const explained = explain(reason);
    expect(explained.reason).toBe(reason);
    expect(explained.summary).toMatch(summary);
    if (action === null) expect(explained.action).toBeNull();
    else expect(explained.action).toMatch(action);
    expect(explained.blocked).toBe(blocked);
    expect(explained.known).toBe(true);
  });

  it('names the account and QOS the job asked for', () => {
    expect(explain('AssocGrpGRES', { ...twoA100s, account: 'vision' }).summary).toBe('waiting for 2 A100s: the GPU limit of account vision is in use');
    expect(explain('QOSMaxGRESPerUser', { ...twoA100s, qos: null }).summary).toBe('waiting for 2 A100s: your GPU limit in its QOS is in use');
  });

  it('reads the reason whatever its case, around its spaces', () => {
    expect(explain('  resources ').summary).toBe('waiting for 2 A100s');
  });

  it('explains every reason Slurm prints', () => {
    const unexplained = SLURM_REASONS.filter((reason) => !explain(reason).known);
    expect(unexplained).toEqual([]);
    for (const reason of SLURM_REASONS) expect(explain(reason).summary, reason).not.toMatch(/undefined|null|\$\{/);
  });

  it('gives an unknown reason back as SLURM wrote it, never a guess', () => {
    expect(explain('WaitingForQuantumAnnealer')).toEqual({ reason: 'WaitingForQuantumAnnealer', summary: 'WaitingForQuantumAnnealer', action: null, blocked: false, known: false });
    expect(explain('QOSGrpTeapotLimit').known).toBe(false); // the limits' grammar, but no such resource
    expect(explain('constructor').known).toBe(false); // not a property of every object
    expect(explain('toString').summary).toBe('toString');
  });
});

describe('requestedResources', () => {
  it('counts GPUs over all nodes, by type when the job names one; else nodes, else CPUs', () => {
    expect(requestedResources(twoA100s)).toBe('2 A100s');
    expect(requestedResources({ ...twoA100s, gpusPerNode: 1 })).toBe('1 A100');
    expect(requestedResources({ ...twoA100s, gpusPerNode: 0, nodes: 3 })).toBe('3 nodes');
    expect(requestedResources({ ...twoA100s, gpusPerNode: 0, cpusPerTask: 8 })).toBe('8 CPUs');
  });
});
