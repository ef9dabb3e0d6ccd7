#!/usr/bin/env node
// Runs vitest once, writes its JSON report to test-results/vitest.json, then prints the one
// closing line CI reads: "vitest: N passed, N failed". Exits non-zero on any failure.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { binPath } from './bin.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const report = join(root, 'test-results', 'vitest.json')
rmSync(report, { force: true })
mkdirSync(dirname(report), { recursive: true })

const vitest = binPath('vitest')
const run = spawnSync(
  process.execPath,
  [
    vitest,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
)

if (!existsSync(report)) {
  console.log('vitest: 0 passed, 1 failed')
  console.error('vitest wrote no report (it crashed before running the tests)')
  process.exit(run.status || 1)
}
const {
  numPassedTests = 0,
  numFailedTests = 0,
  numPendingTests = 0,
  numTodoTests = 0,
  testResults = [],
} = JSON.parse(readFileSync(report, 'utf8'))
// A file that fails to load has no test results but a failed status: count it as a failure.
const brokenFiles = testResults.filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).length,
).length
const failed = numFailedTests + brokenFiles
const skipped = numPendingTests + numTodoTests
console.log(`vitest: ${numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 || run.status !== 0 || numPassedTests === 0 ? 1 : 0)
