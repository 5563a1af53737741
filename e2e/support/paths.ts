import path from 'node:path';

/**
 * Stories run in parallel, one spec file per Playwright worker at a time,
 * and each worker slot talks to a site of its own: stories of one file
 * share a site as before, stories of two files running at once never do.
 * The slot is Playwright's parallel index inside a worker, or
 * CUSTODIAN_E2E_SLOT for the processes playwright.config.ts starts for it.
 */
export const E2E_WORKERS = Math.max(1, Number(process.env.CUSTODIAN_E2E_WORKERS ?? 2));
/** The first slot's site port; another port lets two runs share a machine. */
export const E2E_BASE_PORT = Number(process.env.CUSTODIAN_E2E_PORT ?? 8790);
/** The first slot's SMTP receiver port (e2e/support/smtp-receiver.ts). */
export const E2E_BASE_SMTP_PORT = Number(process.env.CUSTODIAN_E2E_SMTP_PORT ?? 8791);
/**
 * Ports of slot n are the first slot's + n × this; stories start extra
 * sites of their own up to E2E_PORT + 16, so slots never meet.
 */
const SLOT_PORT_STEP = 20;

export interface E2ESlot {
  readonly slot: number;
  readonly port: number;
  readonly smtpPort: number;
  /** Everything the slot writes (site data, received mail). */
  readonly workDir: string;
  readonly siteData: string;
}

export function e2eSlot(slot: number): E2ESlot {
  const port = E2E_BASE_PORT + SLOT_PORT_STEP * slot;
  const base = process.env.CUSTODIAN_E2E_WORK_DIR;
  const workDir = path.resolve(
    base === undefined ? `.tmp/e2e-${port}` : slot === 0 ? base : `${base}-${slot}`,
  );
  return {
    slot,
    port,
    smtpPort: E2E_BASE_SMTP_PORT + SLOT_PORT_STEP * slot,
    workDir,
    siteData: path.join(workDir, 'site', 'data'),
  };
}

const current = e2eSlot(
  Number(process.env.CUSTODIAN_E2E_SLOT ?? process.env.TEST_PARALLEL_INDEX ?? 0),
);

/** This worker's site port. */
export const E2E_PORT = current.port;
/** This worker's SMTP receiver port. */
export const E2E_SMTP_PORT = current.smtpPort;
/**
 * Everything a slot writes (site data, received mail) lives under a folder
 * named after its port, so slots and runs on different ports never share files.
 */
export const E2E_WORK_DIR = current.workDir;
/** The site's data directory, which some stories inspect or damage on purpose. */
export const E2E_SITE_DATA = current.siteData;
/** The console the site serves; `npm run build` writes ./dist. */
export const E2E_CONSOLE_DIR = path.resolve(process.env.CUSTODIAN_E2E_CONSOLE_DIR ?? 'dist');
