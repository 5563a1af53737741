import path from 'node:path';

/** The site's port in end-to-end runs; another port lets two runs share a machine. */
export const E2E_PORT = Number(process.env.CUSTODIAN_E2E_PORT ?? 8790);
/** The SMTP receiver's port (e2e/support/smtp-receiver.ts). */
export const E2E_SMTP_PORT = Number(process.env.CUSTODIAN_E2E_SMTP_PORT ?? 8791);
/**
 * Everything a run writes (site data, received mail) lives under a folder
 * named after its port, so runs on different ports never share files.
 */
export const E2E_WORK_DIR = path.resolve(
  process.env.CUSTODIAN_E2E_WORK_DIR ?? `.tmp/e2e-${E2E_PORT}`,
);
/** The site's data directory, which some stories inspect or damage on purpose. */
export const E2E_SITE_DATA = path.join(E2E_WORK_DIR, 'site', 'data');
/** The console the site serves; `npm run build` writes ./dist. */
export const E2E_CONSOLE_DIR = path.resolve(process.env.CUSTODIAN_E2E_CONSOLE_DIR ?? 'dist');
