// A waiting job in words, for its row and its screen: when SLURM expects it to start, and why it waits. The estimate
// is SLURM's (Job.estimatedStartAt); without one the app says so rather than guess.
import { dateTime, duration, secondsBetween } from './format';

export interface WaitingJob {
  estimatedStartAt: string | null;
  /** The server's one line of why it waits ("waiting for 2 A100s (Resources)"). */
  waitingFor: string | null;
  submittedAt: string | null;
  createdAt: string;
}

/** "≈ starts in 12 min", "≈ starts Dec 7, 14:00" beyond a day, "≈ starts any moment" once due; "no estimate". */
export function startsIn(estimatedStartAt: string | null, now: number): string {
  if (!estimatedStartAt) return 'no estimate';
  const seconds = (Date.parse(estimatedStartAt) - now) / 1000;
  if (Number.isNaN(seconds)) return 'no estimate';
  // An estimate that has passed is SLURM's "as soon as it can": the job is due, not late by some minutes.
  if (seconds < 60) return '≈ starts any moment';
  if (seconds >= 86_400) return `≈ starts ${dateTime(estimatedStartAt, new Date(now))}`;
  const minutes = Math.round(seconds / 60);
  return `≈ starts in ${minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`}`;
}

/** The one line of a pending job: "≈ starts in 12 min · waiting for 2 A100s (Resources)"; how long it waited when SLURM gives no reason yet. */
export function pendingLine(job: WaitingJob, now: number): string {
  return `${startsIn(job.estimatedStartAt, now)} · ${job.waitingFor ?? `pending ${duration(secondsBetween(job.submittedAt ?? job.createdAt, now))}`}`;
}
