import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import solid from 'vite-plugin-solid';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [
    solid(),
    VitePWA({
      registerType: 'prompt',
      // Icons and their <link>s are generated at build from the one SVG.
      pwaAssets: { image: 'public/favicon.svg' },
      manifest: {
        name: 'Mission Control',
        short_name: 'Mission Ctl',
        description: 'Launch, watch and steer training jobs on your SLURM clusters.',
        theme_color: '#0f172a',
        background_color: '#0f172a',
        display: 'standalone',
        start_url: '/',
        scope: '/',
      },
      workbox: {
        // Push and notification-click handlers live in a plain file beside the generated worker.
        importScripts: ['push-sw.js'],
        globPatterns: ['**/*.{js,css,html,svg,png,ico}'],
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/graphql/],
      },
    }),
  ],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
