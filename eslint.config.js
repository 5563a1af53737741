import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import vue from 'eslint-plugin-vue';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(root, 'src');

/** The file an import names, or undefined for a package (or a file that does not exist). */
function resolveImport(fromFile, specifier) {
  let base;
  if (specifier.startsWith('@/')) base = path.join(src, specifier.slice(2));
  else if (specifier.startsWith('.')) base = path.resolve(path.dirname(fromFile), specifier);
  else return undefined;
  for (const candidate of [base, `${base}.ts`, `${base}.vue`, path.join(base, 'index.ts')]) {
    if (existsSync(candidate) && !candidate.endsWith(path.sep) && /\.(ts|vue)$/.test(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/**
 * Where a file of the console sits (SPEC §5): `core`, `shared`, `app`,
 * `testing`, `feature:<name>`, or undefined outside src/.
 */
function layerOf(file) {
  const relative = path.relative(src, file).split(path.sep);
  if (relative[0] === '..' || relative.length < 2) return undefined;
  return relative[0] === 'features' ? `feature:${relative[1]}` : relative[0];
}

const isTest = (file) => /\.test\.ts$/.test(file);

/** SPEC §5: who may import whom inside src/. A message when the import breaks it. */
function layerViolation(fromFile, target) {
  const from = layerOf(fromFile);
  const to = layerOf(target);
  if (!from || !to || from === to || isTest(fromFile) || from === 'testing') return undefined;
  if (to === 'testing') return 'Test support (src/testing) is never imported by the product.';
  if (from === 'core') return 'src/core imports nothing from the rest of the console.';
  if (to === 'core') return undefined;
  if (from === 'shared') {
    return to === 'shared' ? undefined : 'src/shared imports only src/core and src/shared.';
  }
  if (to === 'shared') return undefined;
  if (to === 'app') return 'Features do not import the app; the app imports them.';
  if (to.startsWith('feature:')) {
    const feature = to.slice('feature:'.length);
    const index = path.join(src, 'features', feature, 'index.ts');
    return target === index
      ? undefined
      : `Import the ${feature} feature through its index.ts ('@/features/${feature}').`;
  }
  return undefined;
}

/** Imports that run when the module loads: `import type` and `import()` do not. */
const RUNTIME_IMPORT =
  /(?:^|[;\n])\s*(?:import\s+(?!type\s)(?:[\w$*{},\s]+?\s+from\s+)?|export\s+(?!type\s)[\w$*{},\s]*?\s+from\s+)'([^']+)'/g;
const runtimeImports = new Map();

function runtimeImportsOf(file) {
  let found = runtimeImports.get(file);
  if (!found) {
    const text = readFileSync(file, 'utf8');
    found = [...text.matchAll(RUNTIME_IMPORT)]
      .map((match) => resolveImport(file, match[1]))
      .filter((target) => target !== undefined);
    runtimeImports.set(file, found);
  }
  return found;
}

/** Whether `start`'s load reaches `goal` through runtime imports. */
function reaches(start, goal) {
  const seen = new Set();
  const stack = [start];
  while (stack.length > 0) {
    const file = stack.pop();
    if (file === goal) return true;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...runtimeImportsOf(file));
  }
  return false;
}

/** The console's own rules of shape: layers (SPEC §5) and no import cycles. */
const custodian = {
  rules: {
    layers: {
      meta: { type: 'problem', schema: [] },
      create(context) {
        const check = (node) => {
          const specifier = node.source?.value;
          if (typeof specifier !== 'string') return;
          const target = resolveImport(context.filename, specifier);
          const message = target && layerViolation(context.filename, target);
          if (message) context.report({ node: node.source, message });
        };
        return {
          ImportDeclaration: check,
          ExportNamedDeclaration: check,
          ExportAllDeclaration: check,
          ImportExpression: check,
        };
      },
    },
    'no-cycle': {
      meta: { type: 'problem', schema: [] },
      create(context) {
        const check = (node) => {
          if (node.importKind === 'type' || node.exportKind === 'type') return;
          const specifier = node.source?.value;
          if (typeof specifier !== 'string') return;
          const target = resolveImport(context.filename, specifier);
          if (target && reaches(target, path.resolve(context.filename))) {
            context.report({
              node: node.source,
              message: `Import cycle: '${specifier}' imports this module again.`,
            });
          }
        };
        return {
          ImportDeclaration: check,
          ExportNamedDeclaration: check,
          ExportAllDeclaration: check,
        };
      },
    },
  },
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'public/mockServiceWorker.js',
      'test-results*/**',
      'playwright-report/**',
      'bench/.work/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
  },
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'vue/multi-word-component-names': 'off',
      'no-console': ['error', { allow: ['warn', 'error', 'info'] }],
    },
  },
  {
    // The isomorphic core may not reach for Vue, the DOM or Node (SPEC §5).
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'node:*',
            'vue',
            'vue-*',
            'pinia',
            '@/app/*',
            '@/shared/*',
            '@/features/*',
            '@/testing/*',
          ],
        },
      ],
    },
  },
  {
    // SPEC §5: features reach each other only through index.ts, the product
    // never reaches test support, and modules do not import each other in a circle.
    files: ['src/**/*.ts', 'src/**/*.vue'],
    plugins: { custodian },
    rules: { 'custodian/layers': 'error', 'custodian/no-cycle': 'error' },
  },
  {
    // Engines and workers are plain TypeScript: no Vue, no Pinia (SPEC §5).
    files: ['src/features/*/engine/**/*.ts', 'src/features/*/worker/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['vue', 'vue-*', '@vue/*', 'pinia', 'primevue', 'primevue/*'] },
      ],
    },
  },
  {
    // The site's domain also runs in the page: no HTTP, SQL or Node (SPEC §5).
    files: ['mock-server/src/domain/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'node:*',
            'fastify',
            '@fastify/*',
            'kysely',
            'kysely/*',
            'better-sqlite3',
            'nodemailer',
          ],
        },
      ],
    },
  },
  prettier,
);
