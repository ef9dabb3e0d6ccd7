// Browser end-to-end tests (Chromium) against a running stack: E2E_BASE_URL (run.mjs sets it).
// Debian's chromium is used as it is; Playwright never downloads a browser here.
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { defineConfig } from '@playwright/test'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const baseURL = (process.env.E2E_BASE_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '')

export default defineConfig({
  testDir: here('.'),
  testMatch: '**/*.spec.mjs',
  outputDir: here('../test-results/e2e-artifacts'),
  // Each test has its own user; two workers keep the 2-core machine busy but not swamped.
  fullyParallel: true,
  workers: Number(process.env.E2E_WORKERS || 2),
  // One retry: a test that fails twice fails the run; one that passes on its retry passes and is
  // reported as flaky with its first error (run.mjs prints it, e2e.json counts numFlakyTests).
  retries: Number(process.env.E2E_RETRIES || 1),
  forbidOnly: Boolean(process.env.CI),
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [
    ['list'],
    ['json', { outputFile: process.env.E2E_PLAYWRIGHT_JSON || here('../test-results/e2e-playwright.json') }],
  ],
  use: {
    baseURL,
    testIdAttribute: 'data-test',
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
})
