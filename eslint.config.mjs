// @ts-check
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'libs/control/src/generated/',
      '.postern/',
      'certs/',
      'test-artifacts/',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The web console runs in the browser (apps/console, built by Vite).
    files: ['apps/console/**/*.{ts,tsx,mts}'],
    languageOptions: { globals: globals.browser },
  },
  {
    // The pure libraries stay free of Nest (docs/architecture.md, "Shape"); libs/wire also of sockets and TLS.
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@nestjs/*'] }],
    },
  },
  {
    files: ['libs/wire/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@nestjs/*'], paths: ['node:net', 'node:tls', 'net', 'tls'] },
      ],
    },
  },
);
