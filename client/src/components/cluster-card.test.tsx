import { cleanup, fireEvent, render, screen } from '@solidjs/testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { maskFragments, type ResultOf } from '../api/graphql';
import { ClusterCard } from './cluster-card';
import { ClusterCardFields, GpuSummaryFields } from './cluster-card.fragment';

type Cluster = ResultOf<typeof ClusterCardFields>;
// A card is handed its fragment as a query delivers it: masked.
const card = (cluster: Cluster) => maskFragments([ClusterCardFields], cluster);

const lab: Cluster = {
  name: 'lab',
  host: '127.0.0.1',
  reachable: true,
  latencyMs: 57,
  slurmVersion: '22.05.8',
  error: null,
  stale: false,
  needsReauth: null,
  lastPollAt: null,
  lastPollError: null,
  partitions: [
    { name: 'gpu', isDefault: true, available: true, nodes: 2, states: [{ state: 'mix', nodes: 1 }, { state: 'idle', nodes: 1 }] },
    { name: 'cpu', isDefault: false, available: false, nodes: 1, states: [{ state: 'down*', nodes: 1 }] },
  ],
  connectionHelp: null,
};

describe('ClusterCard', () => {
  afterEach(cleanup);

  it('shows reachability, version and partitions of a reachable cluster', () => {
    render(() => <ClusterCard cluster={card(lab)} onTest={async () => undefined} />);
    expect(screen.getByTestId('reachability').textContent).toBe('●Reachable · 57 ms');
    expect(screen.getByText('Slurm 22.05.8')).toBeTruthy();
    const partitions = screen.getByRole('list', { name: 'Partitions of lab' }).querySelectorAll('li');
    expect([...partitions].map((item) => item.textContent)).toEqual(['gpu (default)2 nodes1 mix · 1 idle', 'cpu1 node · down1 down*']);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it("shows an unreachable cluster's error and a cluster still being checked", () => {
    render(() => <ClusterCard cluster={card({ ...lab, name: 'dead', reachable: false, partitions: [], error: 'dead: connect ECONNREFUSED' })} onTest={async () => undefined} />);
    expect(screen.getByTestId('reachability').textContent).toBe('!Unreachable');
    expect(screen.getByRole('alert').textContent).toBe('dead: connect ECONNREFUSED');
    cleanup();
    render(() => <ClusterCard cluster={card({ ...lab, name: 'slow', reachable: null, partitions: [] })} onTest={async () => undefined} />);
    expect(screen.getByTestId('reachability').textContent).toBe('◷Checking…');
  });

  it('runs a connection test for its cluster and disables the button meanwhile', async () => {
    let finish!: () => void;
    const onTest = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    render(() => <ClusterCard cluster={card(lab)} onTest={onTest} />);
    const button = screen.getByRole('button', { name: 'Test connection to lab' }) as HTMLButtonElement;
    fireEvent.click(button);
    expect(onTest).toHaveBeenCalledWith('lab');
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe('Testing…');
    finish();
    await vi.waitFor(() => expect(button.disabled).toBe(false));
  });
});

describe('ClusterCard states', () => {
  afterEach(cleanup);

  it('puts an expired login first, with the exact command to run', () => {
    render(() => <ClusterCard cluster={card({ ...lab, needsReauth: 'ssh -fN lab' })} onTest={async () => undefined} />);
    expect(screen.getByTestId('reachability').textContent).toBe('!Needs re-auth');
    const command = screen.getByRole('alert').querySelector('code')!;
    expect(command.textContent).toBe('ssh -fN lab');
    // Wrapped between its words only (each word one box), so `-fN` never breaks into `-` and `fN`.
    expect([...command.querySelectorAll('.word')].map((word) => word.textContent)).toEqual(['ssh', '-fN', 'lab']);
  });

  it('says when job states are stale, and shows free GPUs by type and our job counts', () => {
    render(() => (
      <ClusterCard
        cluster={card({ ...lab, stale: true, lastPollError: 'squeue timed out' })}
        counts={{ running: 2, pending: 1 }}
        gpus={maskFragments([GpuSummaryFields], { byType: [{ type: 'a100', free: 3, total: 4 }], standing: nothingKnown })}
        onTest={async () => undefined}
      />
    ));
    expect(screen.getByTestId('reachability').textContent).toBe('◷Stale');
    expect(screen.getByText(/squeue timed out/)).toBeTruthy();
    expect(screen.getByRole('list', { name: 'Free GPUs on lab' }).textContent).toBe('a100 3 free of 4');
    expect(screen.getByTestId('job-counts').textContent).toBe('2 running · 1 pending');
  });
});

type Standing = ResultOf<typeof GpuSummaryFields>['standing'];
/** The lab's standing as the server reads it (test/fixtures/slurm/cluster-check-lab-standing.txt): nothing to say. */
const nothingKnown: Standing = { fairShare: [], gpusRunning: 0, gpusPending: 0, gpuLimits: [] };
const gpusWith = (standing: Standing) => maskFragments([GpuSummaryFields], { byType: [{ type: 'a100', free: 3, total: 4 }], standing });
const qosNormal = { source: 'qos', name: 'normal', scope: 'perUser', gpus: 8, running: 3, pending: 2 } as const;

describe("ClusterCard: the user's fair share and GPU limits", () => {
  afterEach(cleanup);
  const shown = (standing: Standing) => {
    render(() => <ClusterCard cluster={card(lab)} gpus={gpusWith(standing)} onTest={async () => undefined} />);
    const line = screen.queryByTestId('standing');
    return line ? [...line.querySelectorAll('span')].map((phrase) => phrase.textContent) : null;
  };

  it('says nothing where the site told nothing (the lab: priority/basic, no limits, no GPU jobs)', () => {
    expect(shown(nothingKnown)).toBeNull();
  });

  it('shows the fair share and the GPUs against the limit nearest to holding the next job back', () => {
    const standing: Standing = {
      fairShare: [{ account: 'lab', factor: 0.823529 }],
      gpusRunning: 4,
      gpusPending: 2,
      gpuLimits: [
        { source: 'association', name: 'lab', scope: 'perUser', gpus: 16, running: 4, pending: 2 },
        qosNormal,
        { source: 'qos', name: 'normal', scope: 'perJob', gpus: 4, running: 0, pending: 0 },
      ],
    };
    expect(shown(standing)).toEqual(['Your fair share 0.82', 'Your GPUs: 3 running, 2 pending of 8 allowed (QOS normal)', 'At most 4 GPUs per job (QOS normal)']);
  });

  it("shows each account's share, the GPUs without a limit when there are some, and an association by its account", () => {
    expect(shown({ fairShare: [{ account: 'lab', factor: 0.5 }, { account: 'ml', factor: 0.125 }], gpusRunning: 1, gpusPending: 0, gpuLimits: [] })).toEqual([
      'Your fair share 0.50 (lab), 0.13 (ml)',
      'Your GPUs: 1 running, 0 pending',
    ]);
    cleanup();
    expect(shown({ ...nothingKnown, gpuLimits: [{ source: 'association', name: 'lab on gpu', scope: 'perUser', gpus: 1, running: 0, pending: 1 }] })).toEqual([
      'Your GPUs: 0 running, 1 pending of 1 allowed (account lab on gpu)',
    ]);
  });
});

describe('ClusterCard connection help', () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });
  const help = { vpn: 'sudo openconnect --user=jdoe vpn.uni.edu', steps: 'Off campus: VPN first.\nApprove the Duo push.', link: 'https://hpc.uni.edu/docs/access' };
  const campus: Cluster = { ...lab, name: 'campus', connectionHelp: help };

  it("shows an unreachable cluster's own help beside its error: the VPN command to copy, the steps, the link in a new tab", async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    render(() => <ClusterCard cluster={card({ ...campus, reachable: false, partitions: [], error: 'campus: connect ETIMEDOUT 10.1.2.3:22' })} onTest={async () => undefined} />);
    expect(screen.getByRole('alert').textContent).toBe('campus: connect ETIMEDOUT 10.1.2.3:22');
    const box = screen.getByRole('region', { name: 'How to reach campus' });
    expect(box.querySelector('code')!.textContent).toBe('sudo openconnect --user=jdoe vpn.uni.edu');
    // Each line of the steps stays a line (white-space: pre-line), and the text is text: no markup from the config.
    expect(box.querySelector('.steps')!.textContent).toBe('Off campus: VPN first.\nApprove the Duo push.');
    const link = screen.getByRole('link', { name: /Connection instructions/ }) as HTMLAnchorElement;
    expect(link.href).toBe('https://hpc.uni.edu/docs/access');
    expect([link.target, link.rel]).toEqual(['_blank', 'noopener noreferrer']);
    expect(link.textContent).toBe('Connection instructions (hpc.uni.edu) ↗ (opens in a new tab)');
    fireEvent.click(screen.getByRole('button', { name: 'Copy the VPN command for campus' }));
    expect(writeText).toHaveBeenCalledWith('sudo openconnect --user=jdoe vpn.uni.edu');
  });

  it('shows it when the login expired too, and only the parts that are configured', () => {
    render(() => <ClusterCard cluster={card({ ...campus, needsReauth: 'ssh -fN campus', connectionHelp: { vpn: null, steps: null, link: 'https://hpc.uni.edu/docs/access' } })} onTest={async () => undefined} />);
    const box = screen.getByRole('region', { name: 'How to reach campus' });
    expect(box.querySelector('code')).toBeNull();
    expect(box.querySelector('.steps')).toBeNull();
    expect(screen.getByRole('link', { name: /Connection instructions/ })).toBeTruthy();
  });

  it('keeps it out of the way of a cluster that works or is still being checked, and shows no link but http(s)', () => {
    render(() => <ClusterCard cluster={card(campus)} onTest={async () => undefined} />);
    expect(screen.queryByRole('region', { name: 'How to reach campus' })).toBeNull();
    cleanup();
    render(() => <ClusterCard cluster={card({ ...campus, reachable: null })} onTest={async () => undefined} />);
    expect(screen.queryByRole('region', { name: 'How to reach campus' })).toBeNull();
    cleanup();
    render(() => <ClusterCard cluster={card({ ...campus, reachable: false, connectionHelp: { ...help, link: 'javascript:alert(1)' } })} onTest={async () => undefined} />);
    expect(screen.getByRole('region', { name: 'How to reach campus' })).toBeTruthy();
    expect(screen.queryByRole('link')).toBeNull();
  });
});
