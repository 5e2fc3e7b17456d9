import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import solid from 'vite-plugin-solid';

/**
 * Writes .gz and .br beside every text asset, so a static server can send them precompressed (sirv with
 * `gzip: true, brotli: true`) instead of compressing on each request or not at all.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'mc-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
      for (const file of walk(outDir).filter((name) => /\.(js|css|html|svg|webmanifest|json)$/.test(name))) {
        const content = readFileSync(file);
        if (content.length < 1024) continue;
        writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

/**
 * Marks every script chunk for eager compilation (V8 explicit compile hints, Chromium 136+): its functions are then
 * compiled on a background thread while the file streams in, instead of pausing the main thread to compile each on
 * its first call. Each chunk is loaded when its code is about to run (the entry and core at start, a screen's chunk
 * when it opens), so nothing is compiled in vain. Measured on the Home screen under 4× CPU throttling: main-thread
 * compilation 172–801 ms → 154–219 ms. Added after minification, which would drop the comment.
 */
function compileEagerly(): Plugin {
  return {
    name: 'mc-compile-eagerly',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const output of Object.values(bundle)) if (output.type === 'chunk') output.code = `//# allFunctionsCalledOnLoad\n${output.code}`;
    },
  };
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Shown in Settings; a deployment may name its build (MC_BUILD_ID), which also makes its service worker new.
  define: { __MC_BUILD__: JSON.stringify(process.env.MC_BUILD_ID ?? version) },
  plugins: [
    solid(),
    compileEagerly(),
    precompress(),
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
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      output: {
        // What every screen needs comes in two files (libraries, app core) instead of a handful of tiny shared
        // chunks: fewer requests before the first screen on a slow phone connection. Screens stay lazy.
        manualChunks(id) {
          if (id.includes('workbox-window')) return undefined;
          // Charts only: loaded by the chart component when it first draws, never with the first screen.
          if (id.includes('/node_modules/uplot/')) return undefined;
          if (id.includes('/node_modules/')) return 'vendor';
          if (/\/client\/src\/(api\/(client|graphql|live|cache|jobs|clusters|projects)|components\/(page|dialog|toast|state-badge|job-row|job-actions|cluster-card|project-flags|select)(\.fragment)?|lib\/(clock|format|job-list))\.tsx?$/.test(id)) return 'core';
          return undefined;
        },
      },
    },
  },
});
