// A job's live log: the tail read once, then streamed chunks. It follows the end until the reader scrolls up,
// then waits with a "Jump to end" button; search highlights matches; copy takes the whole text shown.
import { Index, Show, createEffect, createMemo, createSignal, on, onCleanup } from 'solid-js';
import { errorMessage } from '../api/client';
import { fetchJobLog, followJobLog } from '../api/jobs';
import type { JobState } from '../api/jobs';
import { isTerminal } from '../lib/job-list';
import { appendChunk, highlight, logFromTail, logText, type LogModel } from '../lib/log';
import { notify } from './toast';

const hasStarted = (state: JobState, startedAt: string | null) => state === 'RUNNING' || state === 'COMPLETING' || startedAt !== null;

export function LogView(props: { jobId: number; state: JobState; startedAt: string | null; onWandbUrl?: (url: string) => void }) {
  const [model, setModel] = createSignal<LogModel | null>(null);
  const [error, setError] = createSignal<string | null>(null);
  const [truncated, setTruncated] = createSignal(false);
  const [following, setFollowing] = createSignal(true);
  const [search, setSearch] = createSignal('');
  const [current, setCurrent] = createSignal(0);
  let box!: HTMLPreElement;

  const started = () => hasStarted(props.state, props.startedAt);
  const ended = () => isTerminal(props.state);

  const read = async () => {
    try {
      const log = await fetchJobLog(props.jobId);
      setError(null);
      setTruncated(log.truncated);
      if (log.wandbUrl) props.onWandbUrl?.(log.wandbUrl);
      return logFromTail(log.text, log.sizeBytes);
    } catch (failure) {
      setError(errorMessage(failure));
      return null;
    }
  };

  // Read the tail once the job has started; then, while it runs, follow from where the tail ended.
  createEffect(
    on([() => props.jobId, started], ([, isStarted]) => {
      if (!isStarted) return;
      let stop: (() => void) | undefined;
      let cancelled = false;
      void read().then((initial) => {
        if (cancelled || !initial) return;
        setModel(initial);
        if (ended()) return;
        stop = followJobLog(
          props.jobId,
          initial.nextByte,
          (chunk) => setModel((previous) => (previous ? appendChunk(previous, chunk) : previous)),
          (failure) => setError(failure.message),
        );
      });
      onCleanup(() => {
        cancelled = true;
        stop?.();
      });
    }),
  );

  // The server stops the stream shortly after the end; read the tail again then, so the last lines are certain.
  createEffect(
    on(ended, (isEnded, wasEnded) => {
      if (!isEnded || wasEnded !== false || !started()) return;
      const timer = setTimeout(async () => {
        const final = await read();
        if (final && logText(final).length >= logText(model() ?? final).length) setModel(final);
      }, 2500);
      onCleanup(() => clearTimeout(timer));
    }),
  );

  const text = () => (model() ? logText(model()!) : '');
  const segments = createMemo(() => highlight(text(), search().trim()));
  const matchCount = () => segments().filter((segment) => segment.match).length;

  const scrollToEnd = () => {
    // The box exists only once the job has started, and the frame may come after the screen was left.
    if (box) box.scrollTop = box.scrollHeight;
  };
  // Scrolling reads the box's height, which lays out the whole log. Below the fold (a phone opening a job) that
  // layout is left to the browser (content-visibility) and the scroll waits until the box comes into view.
  let boxVisible = false;
  let scrollWhenVisible = false;
  const visibility = new IntersectionObserver(
    ([entry]) => {
      boxVisible = entry?.isIntersecting ?? false;
      if (boxVisible && scrollWhenVisible && following()) scrollToEnd();
      if (boxVisible) scrollWhenVisible = false;
    },
    // A little ahead of the viewport, so the box is at its end before it is seen.
    { rootMargin: '25% 0px' },
  );
  onCleanup(() => visibility.disconnect());
  const observeBox = (element: HTMLPreElement) => {
    // A box from before the job started again (a requeue) would report its own visibility.
    if (box) visibility.unobserve(box);
    box = element;
    visibility.observe(element);
  };
  createEffect(
    on(text, () => {
      if (!following()) return;
      if (boxVisible) requestAnimationFrame(scrollToEnd);
      else scrollWhenVisible = true;
    }),
  );
  const onScroll = () => {
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    if (atEnd !== following()) setFollowing(atEnd);
  };

  const showMatch = (index: number) => {
    const marks = box.querySelectorAll('mark');
    if (marks.length === 0) return;
    const wrapped = ((index % marks.length) + marks.length) % marks.length;
    setCurrent(wrapped);
    marks.forEach((mark, position) => mark.classList.toggle('current', position === wrapped));
    setFollowing(false);
    const mark = marks[wrapped] as HTMLElement;
    box.scrollTop = mark.offsetTop - box.clientHeight / 2;
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text());
      notify('Log copied');
    } catch {
      notify('Copying is not allowed here: select the text instead', 'error');
    }
  };

  return (
    <section id="log" aria-labelledby="log-title" class="card">
      <h2 id="log-title" class="section-title">
        Log
      </h2>
      <Show when={started()} fallback={<p class="muted">The log appears here once the job starts.</p>}>
        <div class="log-tools">
          <div class="field log-search">
            <label for="log-search">Search the log</label>
            <input
              id="log-search"
              type="search"
              value={search()}
              onInput={(event) => {
                setSearch(event.currentTarget.value);
                setCurrent(0);
              }}
              onKeyDown={(event) => event.key === 'Enter' && (event.preventDefault(), showMatch(current() + (event.shiftKey ? -1 : 1)))}
            />
          </div>
          <Show when={search().trim()}>
            <span class="muted" aria-live="polite">
              {matchCount() === 0 ? 'No matches' : `${matchCount()} match${matchCount() === 1 ? '' : 'es'}`}
            </span>
            <button type="button" class="button small" onClick={() => showMatch(current() - 1)} disabled={matchCount() === 0} aria-label="Previous match">
              ↑
            </button>
            <button type="button" class="button small" onClick={() => showMatch(current() + 1)} disabled={matchCount() === 0} aria-label="Next match">
              ↓
            </button>
          </Show>
          <button type="button" class="button small" onClick={copy} disabled={!text()}>
            Copy log
          </button>
        </div>
        <Show when={error()}>
          <p class="error" role="alert">
            {error()}
          </p>
        </Show>
        <Show when={truncated()}>
          <p class="muted">Only the end of a long log is shown.</p>
        </Show>
        <div class="log-box">
          <pre class="log" ref={observeBox} tabindex="0" aria-label="Job output" data-testid="log" onScroll={onScroll}>
            <Show when={search().trim()} fallback={text() || (model() ? 'No output yet.' : 'Loading…')}>
              <Index each={segments()}>{(segment) => (segment().match ? <mark>{segment().text}</mark> : segment().text)}</Index>
            </Show>
          </pre>
          <Show when={!following()}>
            <button
              type="button"
              class="button small primary jump-to-end"
              onClick={() => {
                setFollowing(true);
                scrollToEnd();
              }}
            >
              Jump to end ↓
            </button>
          </Show>
        </div>
        <p class="muted" aria-live="polite">
          {ended() ? 'The job has ended: this is its final output.' : following() ? 'Following the output as it is written.' : 'Paused while you read; new output keeps arriving.'}
        </p>
      </Show>
    </section>
  );
}
