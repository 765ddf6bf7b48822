// ESLint flat config: typescript-eslint strict + stylistic, type-checked through tsconfig.json (projectService).
// Formatting is prettier's job (`npm run lint` runs `prettier --check`), so no formatting rules here.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// zod 4 documents the namespace import; one style everywhere, and Lambda bundles keep what they use of zod only.
const ZOD_NAMESPACE_IMPORT = {
  selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier, ImportDeclaration[source.value='zod'] > ImportDefaultSpecifier",
  message: "Use `import * as z from 'zod'` (one import style for zod; the Lambda bundles depend on it).",
};

export default defineConfig(
  {
    ignores: ['cdk.out/**', 'node_modules/**', 'coverage/**', 'dist/**', '.epilot-task-runner/**'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Bracket access on index-signature records (ASL states, env maps, CloudFormation templates) marks a dynamic key.
      '@typescript-eslint/dot-notation': ['error', { allowIndexSignaturePropertyAccess: true }],
      // Shorthand callbacks like `() => resolve()` / `beforeAll(() => nock.disableNetConnect())` are the house style.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `T[]` for simple element types, `Array<{ … }>` / `Array<A | B>` for complex ones, as the code already writes it.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // Off: `async` without `await` deliberately implements Promise-returning interfaces (state handlers, fakes) so that
      // a synchronous throw becomes a rejection; adding awaits or dropping `async` would change that.
      '@typescript-eslint/require-await': 'off',
      // Numbers and booleans in log/error messages are deliberate and print unambiguously; any/nullish/objects stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `_`-prefixed parameters, bindings and caught errors are the codebase's marker for "deliberately unused".
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'all',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Tests: jest's asymmetric matchers (expect.any, expect.stringMatching, …) are typed `any`, and JSON.parse'd
    // responses and synthesized CloudFormation templates are read ad hoc; a wrong shape fails the assertion anyway.
    // `!` after an index the test itself just set up is an assertion too: if it is wrong the test fails at that line.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // afterAll hooks stop what beforeAll may have failed to start (`await simulator?.stop()`), whatever the type says.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    // One import style for zod, everywhere.
    files: ['**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ZOD_NAMESPACE_IMPORT],
    },
  },
  {
    // A state folder (lambdas/<state>/) reaches other Lambda code only through ../shared/**, so each Lambda's bundle and
    // ownership stay separate. `../../…` (tests reaching test/support, local/emulator) is not a sibling state folder.
    files: ['lambdas/*/**/*.ts'],
    ignores: ['lambdas/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: String.raw`^\.\./(?!shared(?:/|$))[^./][^/]*(?:/|$)`,
              message: 'A state folder may import from ../shared/** only; move what both states need into lambdas/shared/.',
            },
          ],
        },
      ],
    },
  },
  {
    // Plain JavaScript (jest.config.js, the CLI launcher, this file) is outside tsconfig.json: lint it untyped.
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
  },
  {
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
