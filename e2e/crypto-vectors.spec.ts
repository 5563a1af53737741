/**
 * The Wycheproof known-answer tests again, this time in Chromium: the
 * browser's WebCrypto is what encrypts backups, so its primitives are checked
 * where they run. src/core/crypto/wycheproof.ts is bundled with esbuild and
 * injected into a page of the site (a secure localhost origin, as WebCrypto
 * requires); the vectors are read here and handed to the page.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { build } from 'esbuild';
import type { VectorReport, WycheproofFileName } from '../src/core/crypto/wycheproof';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectorDir = [
  process.env.WYCHEPROOF_DIR,
  path.resolve(repoRoot, '..', 'shared', 'vectors'),
].find((dir): dir is string => !!dir && existsSync(path.join(dir, 'aes_gcm_test.json')));

const FILES: WycheproofFileName[] = [
  'aes_gcm_test.json',
  'aes_wrap_test.json',
  'hmac_sha256_test.json',
  'ecdh_secp256r1_test.json',
  'ecdh_secp256r1_webcrypto_test.json',
  'ecdsa_secp256r1_sha256_p1363_test.json',
  'hkdf_sha256_test.json',
];

/** The runner as one classic script defining `CustodianWycheproof` on window. */
async function bundleRunner(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(repoRoot, 'src', 'core', 'crypto', 'wycheproof.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'CustodianWycheproof',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

// Injected inline script: the site's CSP must not stand in the way of the test.
test.use({ bypassCSP: true });

test.describe('WebCrypto in Chromium against Wycheproof vectors', () => {
  test.skip(
    !vectorDir,
    'Wycheproof vectors not found: set WYCHEPROOF_DIR or put them in ../shared/vectors beside the repository.',
  );

  test('every valid case is accepted and every invalid case rejected', async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    const files = Object.fromEntries(
      FILES.map((name) => [name, JSON.parse(readFileSync(path.join(vectorDir!, name), 'utf8'))]),
    ) as Record<WycheproofFileName, unknown>;

    await page.goto(new URL('/api/health', baseURL).toString());
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
    await page.addScriptTag({ content: await bundleRunner() });

    const reports = await page.evaluate(async (input) => {
      const runner = (
        window as unknown as {
          CustodianWycheproof: {
            runWycheproof(files: unknown): Promise<VectorReport[]>;
            formatReports(reports: VectorReport[]): string;
          };
        }
      ).CustodianWycheproof;
      const result = await runner.runWycheproof(input);
      return { result, text: runner.formatReports(result) };
    }, files);

    console.info(`Chromium ${page.context().browser()?.version() ?? ''}\n${reports.text}`);
    for (const report of reports.result) {
      for (const deviation of report.deviations) console.info(`  known deviation: ${deviation}`);
    }
    expect(reports.result.map((r) => r.primitive)).toHaveLength(FILES.length);
    for (const report of reports.result) {
      expect(report.failures, report.primitive).toEqual([]);
      expect(report.valid, report.primitive).toBeGreaterThan(0);
    }
  });
});
