// The frame around every screen: navigation, the offline banner, the update prompt, dialogs and messages. It also
// decides what a refused token means (go pair) and follows notification taps relayed by the service worker.
import { useLocation, useNavigate, type RouteSectionProps } from '@solidjs/router';
import { Show, Suspense, createEffect, on, onCleanup, onMount } from 'solid-js';
import { useRegisterSW } from 'virtual:pwa-register/solid';
import { isOffline, resync, setUnauthorizedHandler } from './api/client';
import { fetchSession } from './api/session';
import { DialogHost } from './components/dialog';
import { Toasts, notify } from './components/toast';

/** Set by main.tsx when the app was opened from a pairing link: the stored token is checked once it renders. */
export const pairingLink = { opened: false };

function OfflineBanner() {
  return (
    <Show when={isOffline()}>
      <div class="banner banner-offline" role="status" data-testid="offline-banner">
        <span>
          <strong>Offline.</strong> Showing the last known data; it updates by itself once the server is back.
        </span>
        <button type="button" class="button small" onClick={resync}>
          Retry now
        </button>
      </div>
    </Show>
  );
}

function UpdatePrompt() {
  const {
    needRefresh: [needRefresh, setNeedRefresh],
    updateServiceWorker,
  } = useRegisterSW({
    // Not immediate: the worker registers after the page's load event, so its precaching does not compete with
    // the first screen for the network and the CPU.
    onRegisteredSW(_url, registration) {
      // A phone keeps the app open for days: look for a new version when it comes back to the foreground.
      if (!registration) return;
      document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && void registration.update().catch(() => undefined));
    },
  });
  return (
    <Show when={needRefresh()}>
      <div class="banner banner-update" role="status">
        <span>A new version of Mission Control is ready.</span>
        <span class="banner-actions">
          <button type="button" class="button small primary" onClick={() => void updateServiceWorker(true)}>
            Reload
          </button>
          <button type="button" class="button small" onClick={() => setNeedRefresh(false)}>
            Later
          </button>
        </span>
      </div>
    </Show>
  );
}

export function Shell(props: RouteSectionProps) {
  const navigate = useNavigate();
  const location = useLocation();
  let main!: HTMLElement;

  setUnauthorizedHandler(() => {
    if (location.pathname === '/pair') return;
    navigate(`/pair?refused=1&next=${encodeURIComponent(location.pathname + location.search)}`);
  });

  const onWorkerMessage = (event: MessageEvent) => {
    const data = event.data as { type?: string; url?: string } | null;
    if (data?.type === 'mc:navigate' && typeof data.url === 'string' && data.url.startsWith('/')) navigate(data.url);
  };
  navigator.serviceWorker?.addEventListener('message', onWorkerMessage);
  onCleanup(() => navigator.serviceWorker?.removeEventListener('message', onWorkerMessage));

  onMount(() => {
    if (!pairingLink.opened) return;
    pairingLink.opened = false;
    // A refused token reaches the unauthorized handler, which opens /pair.
    fetchSession().then(
      (session) => notify(session.tokenName ? `Paired as “${session.tokenName}”` : 'Paired'),
      () => undefined,
    );
  });

  // The header is static markup in index.html (drawn before any script, and no components to build at start):
  // mark its current link here.
  const navLinks = [...document.querySelectorAll<HTMLAnchorElement>('.main-nav a')];
  createEffect(() => {
    const path = location.pathname;
    for (const link of navLinks) {
      const href = link.getAttribute('href')!;
      const current = href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
      link.classList.toggle('active', current);
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  });

  // After a navigation, move focus to the new screen so keyboard and screen-reader users start at its top.
  createEffect(
    on(
      () => location.pathname,
      () => {
        if (location.hash) return;
        main.focus({ preventScroll: true });
        window.scrollTo(0, 0);
      },
      { defer: true },
    ),
  );

  return (
    <>
      <OfflineBanner />
      <UpdatePrompt />
      <main id="main" ref={main} tabindex="-1">
        <Suspense fallback={<p class="muted">Loading…</p>}>{props.children}</Suspense>
      </main>
      <Toasts />
      <DialogHost />
    </>
  );
}
