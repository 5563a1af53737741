import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests drive Debian's Chromium against the real site on
 * loopback (Playwright's own browser download is not used). The site runs in
 * demo mode on its own port with a fresh data directory for each run.
 */
import {
  E2E_CONSOLE_DIR,
  E2E_PORT,
  E2E_SITE_DATA,
  E2E_SMTP_PORT,
  E2E_WORK_DIR,
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
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
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
    trace: 'retain-on-failure',
  },
  webServer: [
    {
      // AL-3: alert mail goes to a local receiver that writes each mail to a file.
      command: `npx tsx e2e/support/smtp-receiver.ts`,
      port: E2E_SMTP_PORT,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      command: `rm -rf '${E2E_WORK_DIR}/site' && npx tsx mock-server/src/main.ts start --demo --port ${E2E_PORT} --data-dir '${E2E_SITE_DATA}' --console-dir '${E2E_CONSOLE_DIR}' --log-level warn`,
      url: `http://127.0.0.1:${E2E_PORT}/api/health`,
      env: {
        CUSTODIAN_SMTP_URL: `smtp://127.0.0.1:${E2E_SMTP_PORT}`,
        CUSTODIAN_ALERT_MAIL_TO: 'security@custodian.test',
        CUSTODIAN_MAIL_BURST: '2',
      },
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
  ],
});
