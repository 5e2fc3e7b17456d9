import { describe, expect, it } from 'vitest';
import { createPrometheus } from './prometheus.js';

describe('createPrometheus', () => {
  it('counts remote commands by kind and result, connections and polls, in a registry of its own', async () => {
    const one = createPrometheus();
    const other = createPrometheus();
    const observer = one.transportObserver();
    observer.command({ cluster: 'hpc', kind: 'poll', durationMs: 120, exitCode: 0, failed: false });
    observer.command({ cluster: 'hpc', kind: 'poll', durationMs: 80, exitCode: 0, failed: false });
    observer.command({ cluster: 'hpc', kind: 'cancel', durationMs: 30, exitCode: 1, failed: false });
    observer.command({ cluster: 'hpc', kind: 'submit', durationMs: 5000, exitCode: null, failed: true });
    observer.command({ cluster: 'hpc', kind: 'log-follow', durationMs: 60_000, exitCode: null, failed: false });
    observer.connected('hpc');
    one.observePoll({ cluster: 'hpc', durationMs: 150, ok: true });
    one.notificationsSent.inc({ channel: 'ntfy', result: 'ok' });

    const { body, contentType } = await one.scrape();
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain('mc_remote_commands_total{cluster="hpc",kind="poll",result="ok"} 2');
    expect(body).toContain('mc_remote_commands_total{cluster="hpc",kind="cancel",result="exit_nonzero"} 1');
    expect(body).toContain('mc_remote_commands_total{cluster="hpc",kind="submit",result="error"} 1');
    expect(body).toContain('mc_remote_commands_total{cluster="hpc",kind="log-follow",result="signal"} 1');
    expect(body).toContain('mc_remote_command_duration_seconds_count{cluster="hpc",kind="poll"} 2');
    expect(body).toContain('mc_ssh_connects_total{cluster="hpc"} 1');
    expect(body).toContain('mc_poll_duration_seconds_count{cluster="hpc",result="ok"} 1');
    expect(body).toContain('mc_notifications_sent_total{channel="ntfy",result="ok"} 1');
    expect(body).toContain('process_resident_memory_bytes');

    expect((await other.scrape()).body).not.toContain('kind="poll"');
  });

  it('reads the state gauges at scrape time, and forgets what is no longer there', async () => {
    const prometheus = createPrometheus();
    let states = [
      { state: 'RUNNING', count: 3 },
      { state: 'PENDING', count: 1 },
    ];
    let open = 2;
    prometheus.setSources({
      jobsByState: async () => states,
      clusters: () => [{ name: 'hpc', reachable: true, stale: false, needsReauth: false }],
    });
    prometheus.setSources({ openSubscriptions: () => open });
    let { body } = await prometheus.scrape();
    expect(body).toContain('mc_jobs{state="RUNNING"} 3');
    expect(body).toContain('mc_jobs{state="PENDING"} 1');
    expect(body).toContain('mc_subscriptions_open 2');
    expect(body).toContain('mc_cluster_reachable{cluster="hpc"} 1');
    expect(body).toContain('mc_cluster_stale{cluster="hpc"} 0');
    states = [{ state: 'COMPLETED', count: 4 }];
    open = 0;
    ({ body } = await prometheus.scrape());
    expect(body).toContain('mc_jobs{state="COMPLETED"} 4');
    expect(body).not.toContain('mc_jobs{state="RUNNING"}');
    expect(body).toContain('mc_subscriptions_open 0');
  });
});
