// Web Push for the service worker that vite-plugin-pwa generates (pulled in with workbox `importScripts`).
// Payload, as server/push/notifier.ts sends it: { title, body, url: "/jobs/<id>" | "/clusters", tag, jobId?, state?, cluster? }.
/* eslint-env serviceworker */

self.addEventListener('push', (event) => {
  let payload = {};
  if (event.data) {
    try {
      payload = event.data.json();
    } catch {
      payload = { body: event.data.text() };
    }
  }
  const title = typeof payload.title === 'string' && payload.title ? payload.title : 'Mission Control';
  const url = typeof payload.url === 'string' && payload.url.startsWith('/') ? payload.url : '/';
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof payload.body === 'string' ? payload.body : '',
      // A newer notification about the same job replaces the older one instead of piling up.
      tag: typeof payload.tag === 'string' && payload.tag ? payload.tag : undefined,
      data: { url },
      icon: '/pwa-192x192.png',
      badge: '/pwa-64x64.png',
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const path = (event.notification.data && event.notification.data.url) || '/';
  const target = new URL(path, self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (open) {
        // The app routes in place (no reload) when it hears this. Told before focusing: focus() can be refused
        // (no user activation left), and the job should open all the same.
        open.postMessage({ type: 'mc:navigate', url: path });
        await open.focus().catch(() => undefined);
        return;
      }
      await self.clients.openWindow(target);
    })(),
  );
});
