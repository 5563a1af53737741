/**
 * Wycheproof known-answer tests in Node. The vectors are never copied into
 * the project: they are read from $WYCHEPROOF_DIR, else from ../shared/vectors
 * beside the repository. The same module runs in Chromium from
 * e2e/crypto-vectors.spec.ts.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  WYCHEPROOF_FILES,
  formatReports,
  runWycheproof,
  type WycheproofFileName,
} from './wycheproof';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const candidates = [process.env.WYCHEPROOF_DIR, path.resolve(repoRoot, '..', 'shared', 'vectors')];
const vectorDir = candidates.find(
  (dir): dir is string => !!dir && existsSync(path.join(dir, 'aes_gcm_test.json')),
);

if (!vectorDir) {
  console.warn(
    'Wycheproof vectors not found: set WYCHEPROOF_DIR to a directory holding the ' +
      'C2SP/wycheproof testvectors_v1 files (aes_gcm_test.json, …), or put them in ' +
      `${path.resolve(repoRoot, '..', 'shared', 'vectors')}. Skipping the known-answer tests.`,
  );
}

describe.skipIf(!vectorDir)('Wycheproof vectors through WebCrypto (Node)', () => {
  for (const name of Object.keys(WYCHEPROOF_FILES) as WycheproofFileName[]) {
    it(`runs ${name}`, async () => {
      const json = JSON.parse(readFileSync(path.join(vectorDir!, name), 'utf8')) as unknown;
      const [report] = await runWycheproof({ [name]: json });
      console.info(formatReports([report!]));
      for (const deviation of report!.deviations) console.info(`  known deviation: ${deviation}`);
      expect(report!.failures).toEqual([]);
      expect(report!.valid).toBeGreaterThan(0);
    });
  }
});
