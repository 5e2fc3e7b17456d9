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
    expect(screen.getByText('ssh -fN lab').tagName).toBe('CODE');
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
