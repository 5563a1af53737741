import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: import.meta.dirname });

/** The messages ESLint gives `code` as if it were the file at `filePath`. */
async function lint(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((message) => `${message.ruleId}: ${message.message}`);
}

// SPEC §5: the lint configuration holds the console's shape.
describe('lint holds the shape of the code', () => {
  it('lets a feature import another only through its index.ts', async () => {
    const deep = "import { useSessionStore } from '@/features/account/stores/session';\n";
    expect(
      await lint(
        `${deep}export const store = useSessionStore;\n`,
        'src/features/backup/stores/x.ts',
      ),
    ).toEqual([
      "custodian/layers: Import the account feature through its index.ts ('@/features/account').",
    ]);
    const viaIndex = "import { useSessionStore } from '@/features/account';\n";
    expect(
      await lint(
        `${viaIndex}export const store = useSessionStore;\n`,
        'src/features/backup/stores/x.ts',
      ),
    ).toEqual([]);
    const own = "import { useMyPairsStore } from '@/features/backup/stores/my-pairs';\n";
    expect(
      await lint(
        `${own}export const store = useMyPairsStore;\n`,
        'src/features/backup/stores/x.ts',
      ),
    ).toEqual([]);
  });

  it('keeps Vue and Pinia out of engines and workers', async () => {
    for (const [module, name] of [
      ['vue', 'ref'],
      ['pinia', 'defineStore'],
    ]) {
      const code = `import { ${name} } from '${module}';\nexport const used = ${name};\n`;
      for (const filePath of [
        'src/features/backup/engine/x.ts',
        'src/features/restore/worker/x.ts',
      ]) {
        expect(await lint(code, filePath), filePath).toEqual([
          `no-restricted-imports: '${module}' import is restricted from being used by a pattern.`,
        ]);
      }
      expect(await lint(code, 'src/features/backup/stores/x.ts')).toEqual([]);
    }
  });

  it('keeps src/core free of the rest of the console', async () => {
    const code =
      "import { useExplainError } from '@/shared/errors/explain-error';\nexport const used = useExplainError;\n";
    const messages = await lint(code, 'src/core/contract/x.ts');
    expect(messages).toContain(
      'custodian/layers: src/core imports nothing from the rest of the console.',
    );
    expect(await lint(code, 'src/features/backup/stores/x.ts')).toEqual([]);
  });

  it('keeps shared code from reaching into features or the app', async () => {
    const code =
      "import { useSessionStore } from '@/features/account';\nexport const used = useSessionStore;\n";
    expect(await lint(code, 'src/shared/api/x.ts')).toEqual([
      'custodian/layers: src/shared imports only src/core and src/shared.',
    ]);
  });

  it('never lets the product import test support', async () => {
    const code = "import { server } from '@/testing/msw-server';\nexport const used = server;\n";
    expect(await lint(code, 'src/features/admin/stores/x.ts')).toEqual([
      'custodian/layers: Test support (src/testing) is never imported by the product.',
    ]);
    expect(await lint(code, 'src/features/admin/stores/x.test.ts')).toEqual([]);
  });

  it('finds an import cycle', async () => {
    // The contract's index re-exports errors.ts: errors.ts importing the index closes a circle.
    const cycle = "import { apiRoutes } from './index';\nexport const routes = apiRoutes;\n";
    expect(await lint(cycle, 'src/core/contract/errors.ts')).toEqual([
      "custodian/no-cycle: Import cycle: './index' imports this module again.",
    ]);
    // A type-only import is erased and closes no circle at run time.
    const typeOnly =
      "import type { RouteEntry } from './index';\nexport type Route = RouteEntry;\n";
    expect(await lint(typeOnly, 'src/core/contract/errors.ts')).toEqual([]);
  });

  it('keeps HTTP, SQL and Node out of the site domain', async () => {
    for (const module of ['fastify', 'kysely', 'better-sqlite3', 'node:crypto']) {
      const code = `import * as forbidden from '${module}';\nexport const used = forbidden;\n`;
      expect(await lint(code, 'mock-server/src/domain/x.ts'), module).toEqual([
        `no-restricted-imports: '${module}' import is restricted from being used by a pattern.`,
      ]);
    }
  });
});
