import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';

/**
 * End-to-end tests drive Debian's Chromium against the real site on
 * loopback (Playwright's own browser download is not used). Spec files run
 * on E2E_WORKERS workers; each worker slot has a site of its own in demo
 * mode, on its own port with a fresh data directory for each run, and an
 * SMTP receiver of its own (e2e/support/paths.ts).
 */
import {
  E2E_CONSOLE_DIR,
  E2E_PORT,
  E2E_SMTP_PORT,
  E2E_WORKERS,
  e2eSlot,
  type E2ESlot,
} from './e2e/support/paths';

export { E2E_PORT, E2E_SMTP_PORT };
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export default defineConfig({
  testDir: 'e2e',
  fullyParallel: false,
  workers: E2E_WORKERS,
  retries: 0,
  // Two workers share the machine's cores, so a story, and any one step of
  // it, takes up to twice as long as alone. Steps with a deadline of their
  // own (an alert that must appear live within 5 s) keep it.
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${E2E_PORT}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CUSTODIAN_CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
    screenshot: 'only-on-failure',
    trace: { mode: 'retain-on-failure', screenshots: false, snapshots: false, sources: true },
  },
  webServer: Array.from({ length: E2E_WORKERS }, (_, slot) => slotServers(e2eSlot(slot))).flat(),
});

type WebServer = Extract<PlaywrightTestConfig['webServer'], unknown[]>[number];

/** The SMTP receiver and the site of one worker slot. */
function slotServers(slot: E2ESlot): WebServer[] {
  return [
    {
      // AL-3: alert mail goes to a local receiver that writes each mail to a file.
      command: `node --import tsx e2e/support/smtp-receiver.ts`,
      env: { CUSTODIAN_E2E_SLOT: String(slot.slot) },
      port: slot.smtpPort,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      command: `rm -rf '${slot.workDir}/site' && node --import tsx mock-server/src/main.ts start --demo --port ${slot.port} --data-dir '${slot.siteData}' --console-dir '${E2E_CONSOLE_DIR}' --log-level warn`,
      url: `http://127.0.0.1:${slot.port}/api/health`,
      env: {
        // Each slot's own key, apart from its data: two sites never race to create one file.
        CUSTODIAN_MASTER_KEY_FILE: `${slot.workDir}/site/secrets/master.key`,
        CUSTODIAN_SMTP_URL: `smtp://127.0.0.1:${slot.smtpPort}`,
        CUSTODIAN_ALERT_MAIL_TO: 'security@custodian.test',
        CUSTODIAN_MAIL_BURST: '2',
      },
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
  ];
}
