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
        gpus={maskFragments([GpuSummaryFields], { byType: [{ type: 'a100', free: 3, total: 4 }] })}
        onTest={async () => undefined}
      />
    ));
    expect(screen.getByTestId('reachability').textContent).toBe('◷Stale');
    expect(screen.getByText(/squeue timed out/)).toBeTruthy();
    expect(screen.getByRole('list', { name: 'Free GPUs on lab' }).textContent).toBe('a100 3 free of 4');
    expect(screen.getByTestId('job-counts').textContent).toBe('2 running · 1 pending');
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
