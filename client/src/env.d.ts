/** The build's name: package version, or MC_BUILD_ID at build time (client/vite.config.ts). */
declare const __MC_BUILD__: string;
