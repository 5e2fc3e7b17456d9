// Pieces every screen uses: its title, and what to show while data loads, fails, or comes from the offline copy.
import { Show, createEffect, type JSX } from 'solid-js';
import type { ApiError } from '../api/client';
import { ago } from '../lib/format';

export function usePageTitle(title: () => string): void {
  createEffect(() => (document.title = `${title()} · Mission Control`));
}

export function PageHeader(props: { title: string; back?: { href: string; label: string }; children?: JSX.Element }) {
  usePageTitle(() => props.title);
  return (
    <div class="page-head">
      <Show when={props.back}>
        {(back) => (
          <a href={back().href} class="back-link">
            <span aria-hidden="true">‹</span>
            {back().label}
          </a>
        )}
      </Show>
      <div class="page-title-row">
        <h1 class="page-title">{props.title}</h1>
        {props.children}
      </div>
    </div>
  );
}

/**
 * Loading, failure and offline-copy notices for one piece of live data; the data itself is the caller's. An
 * unreachable server is the offline banner's to say (once, with its retry); here it is only "as of when".
 */
export function DataNotice(props: { what: string; loading: boolean; hasValue: boolean; error: ApiError | null; cachedAt: number | null; onRetry?: () => void }) {
  const offline = () => props.error?.kind === 'network';
  return (
    <>
      <Show when={props.loading && !props.hasValue && !props.error}>
        <p class="muted" aria-live="polite">
          Loading {props.what}…
        </p>
      </Show>
      <Show when={offline()}>
        <p class="muted stale-note">
          {props.hasValue ? (props.cachedAt ? `Last updated ${ago(new Date(props.cachedAt).toISOString())}.` : 'Last known state.') : `No saved copy of ${props.what} on this device.`}
        </p>
      </Show>
      <Show when={props.error && !offline() && props.error.kind !== 'unauthorized'}>
        <div class="error" role="alert">
          <span>
            {props.hasValue ? `Showing ${props.what} as last seen: ` : `Could not load ${props.what}: `}
            {props.error!.message}
          </span>
          <Show when={props.onRetry}>
            <button type="button" class="button small" onClick={() => props.onRetry?.()}>
              Retry
            </button>
          </Show>
        </div>
      </Show>
    </>
  );
}
