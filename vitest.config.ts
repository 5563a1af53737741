import { fileURLToPath, URL } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

const alias = { '@': fileURLToPath(new URL('./src', import.meta.url)) };

// Four projects: the isomorphic core and tools run in plain Node, the lint
// rules run in Node, the site runs over real HTTP in Node, and the console's
// components run in jsdom.
export default defineConfig({
  test: {
    // Vitest keeps one core for itself by default, which on a two-core
    // machine leaves one worker. The test files wait on the site, on
    // IndexedDB and on timers as much as on the CPU: on two cores, two
    // workers finish in about 60 % of one worker's time, and a third fills
    // their waits (366 s → 336 s for the whole run).
    maxWorkers: 3,
    // Component tests delete the browser's database after each test, when a
    // read the console began in the background (My volumes, site copies) may
    // still be on its way; the console itself never closes its database.
    // Only that error passes; any other unhandled error fails the run.
    onUnhandledError: (error) => error.name !== 'DatabaseClosedError',
    // The Node projects (core, tooling, server) run their files one after
    // another in a worker without loading every module again for each file
    // (server alone: 117 s -> 95 s); their tests keep no state in modules
    // (each starts sites and databases of its own). The console's
    // components do: their project stays isolated.
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'core',
          environment: 'node',
          isolate: false,
          include: ['src/core/**/*.test.ts', 'tools/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          // The lint rules that hold the code's shape (SPEC §5), run on examples.
          name: 'tooling',
          environment: 'node',
          isolate: false,
          include: ['eslint.config.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'server',
          environment: 'node',
          isolate: false,
          // The site's rules carried by MSW run in Node too (src/app/offline-site).
          include: ['mock-server/**/*.test.ts', 'src/app/offline-site/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [vue()],
        resolve: { alias },
        test: {
          name: 'ui',
          environment: 'jsdom',
          include: ['src/**/*.test.ts'],
          exclude: ['src/core/**', 'src/app/offline-site/**'],
          setupFiles: ['src/testing/setup.ts'],
          // Two cores shared with the site and the browser: generous, not tight.
          testTimeout: 30_000,
          globals: true,
        },
      },
    ],
  },
});
