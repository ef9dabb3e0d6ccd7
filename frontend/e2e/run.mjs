#!/usr/bin/env node
// Browser end-to-end tests, start to finish (`make e2e` runs this from frontend/):
//
//   1. without E2E_BASE_URL: starts the `make run` stack (python -m devstack.run) on a free port with
//      a throw-away VAR_DIR and API_QUOTA_GUEST=5, and waits for its ready file (which also names the
//      Stripe stand-in's URL: E2E_STRIPE_URL for the tests that read its request journal or move
//      its clock, and the dev mailbox: E2E_MAILBOX_URL);
//      with E2E_BASE_URL=http://...: uses that running stack as it is (and E2E_STRIPE_URL,
//      E2E_MAILBOX_URL if set);
//   2. runs Playwright (e2e/playwright.config.mjs) in Debian's Chromium;
//   3. always stops the stack it started (SIGTERM, then SIGKILL of its process group: no orphans);
//   4. writes ../var/test-results/e2e.json ({numPassedTests, numFailedTests, numPendingTests, ...})
//      and prints the closing line "e2e: N passed, N failed, N skipped". Exit status 1 on any failure.
//
// Arguments go to `playwright test` (e.g. a file name, or -g "3-D Secure").
import { spawn } from 'node:child_process'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import process from 'node:process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { binPath } from '../scripts/bin.mjs'

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(frontend, '..')
const report = resolve(root, process.env.E2E_REPORT || 'var/test-results/e2e.json')
const python = process.env.E2E_PYTHON || join(root, '.venv', 'bin', 'python')
const startTimeout = Number(process.env.E2E_START_TIMEOUT || 300) * 1000
const started = Date.now()

const work = mkdtempSync(join(tmpdir(), 'opensec-e2e-'))
const playwrightJson = join(work, 'playwright.json')
const stackLog = report.replace(/\.json$/, '') + '-stack.log'
// Which stack to start: `run` (make run: runserver, SQLite) or `stack` (make stack: NGINX,
// gunicorn with production settings, PostgreSQL, Redis, Celery; `make e2e-stack`).
const stackKind = process.env.E2E_STACK || 'run'
let stack = null
let playwright = null
// The Stripe stand-in of the stack under test (E2E_STRIPE_URL when testing a running stack).
let stripeUrl = (process.env.E2E_STRIPE_URL || '').replace(/\/+$/, '')
// The dev mailbox of that stack (what its dev mail server received; E2E_MAILBOX_URL likewise).
let mailboxUrl = process.env.E2E_MAILBOX_URL || ''

function say(message) {
  console.log(`+ ${message}`)
}

/** Starts devstack.run in its own process group; resolves with the base URL once it is ready. */
async function startStack() {
  const readyFile = join(work, 'ready.json')
  // A copy of the build: a rebuild of frontend/dist/spa meanwhile (another checkout user) cannot
  // pull the app from under the tests.
  const build = join(frontend, 'dist', 'spa')
  if (!existsSync(join(build, 'index.html')))
    throw new Error(`no SPA build in ${build} (make frontend-build)`)
  const spa = join(work, 'spa')
  cpSync(build, spa, { recursive: true })
  const env = {
    ...process.env,
    API_QUOTA_GUEST: process.env.E2E_QUOTA_GUEST || '5',
    // Every browser of the run buys from 127.0.0.1: the per-address purchase limit (30/hour, for
    // card testing) would stop the suite, not a card tester. The per-user limit stays as it is.
    BILLING_RATE_PURCHASE_IP: process.env.E2E_RATE_PURCHASE_IP || '300/hour',
    SPA_BUILD_DIR: spa,
  }
  // Nothing of the developer's own stack: its port, database, broker, var/ folder.
  for (const name of ['PORT', 'SITE_URL', 'VAR_DIR', 'DATABASE_URL', 'REDIS_URL', 'CELERY_BROKER_URL'])
    delete env[name]
  const args =
    stackKind === 'stack'
      ? ['-m', 'devstack.stack', '--port', '0', '--log-dir', join(work, 'logs'), '--ready-file', readyFile]
      : ['-m', 'devstack.run', '--port', '0', '--var-dir', join(work, 'var'), '--ready-file', readyFile]
  say(
    `starting the stack: ${python} ${args.join(' ')} (API_QUOTA_GUEST=${env.API_QUOTA_GUEST}, ` +
      `BILLING_RATE_PURCHASE_IP=${env.BILLING_RATE_PURCHASE_IP}; log: ${stackLog})`,
  )
  mkdirSync(dirname(stackLog), { recursive: true })
  const log = openSync(stackLog, 'w')
  stack = spawn(python, args, {
    cwd: join(root, 'backend'),
    env,
    detached: true,
    stdio: ['ignore', log, log],
  })
  const exited = new Promise((res) => stack.once('exit', (code, signal) => res({ code, signal })))
  const deadline = Date.now() + startTimeout
  while (Date.now() < deadline) {
    if (existsSync(readyFile)) {
      const ready = JSON.parse(readFileSync(readyFile, 'utf8'))
      // The Stripe stand-in's own URL (its request journal): `make run` and `make stack` name it
      // differently in their ready files.
      stripeUrl = ready.stripe_url ?? ready.stripe?.api_host ?? ''
      mailboxUrl = ready.mailbox_url ?? ''
      say(`stack ready at ${ready.url} after ${Math.round((Date.now() - started) / 1000)} s`)
      return ready.url
    }
    const done = await Promise.race([exited, sleep(250).then(() => null)])
    if (done) throw new Error(`the stack exited (${done.code ?? done.signal}) before it was ready`)
  }
  throw new Error(`the stack was not ready after ${startTimeout / 1000} s`)
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM to devstack.run (it stops its children), then SIGKILL to whatever is left of its group. */
async function stopStack() {
  if (!stack?.pid) return
  const { pid } = stack
  stack = null
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    // already gone
  }
  for (let i = 0; i < 120 && groupAlive(pid); i++) await sleep(250)
  if (groupAlive(pid)) {
    say('the stack did not stop within 30 s: SIGKILL to its process group')
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // gone meanwhile
    }
  }
  say('stack stopped')
}

function runPlaywright(baseUrl, extraArgs) {
  const cli = binPath('@playwright/test', 'playwright')
  const args = [cli, 'test', '-c', join(frontend, 'e2e', 'playwright.config.mjs'), ...extraArgs]
  say(`playwright test against ${baseUrl}`)
  const child = (playwright = spawn(process.execPath, args, {
    cwd: frontend,
    stdio: 'inherit',
    env: {
      ...process.env,
      E2E_BASE_URL: baseUrl,
      E2E_STRIPE_URL: stripeUrl,
      E2E_MAILBOX_URL: mailboxUrl,
      E2E_PLAYWRIGHT_JSON: playwrightJson,
    },
  }))
  return new Promise((res) =>
    child.once('exit', (code, signal) => {
      playwright = null
      res(code ?? (signal ? 1 : 0))
    }),
  )
}

/** Playwright's JSON report → the counts CI adds up, one entry per test, axe notes. */
function summarize(problem, exitCode, baseUrl) {
  const tests = []
  const notes = []
  let pw = null
  if (existsSync(playwrightJson)) pw = JSON.parse(readFileSync(playwrightJson, 'utf8'))
  const walk = (suite, file) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        const last = t.results?.at(-1)
        const status = { expected: 'passed', unexpected: 'failed', flaky: 'passed', skipped: 'skipped' }[
          t.status
        ]
        tests.push({
          file: spec.file ?? file,
          title: spec.title,
          status: status ?? 'failed',
          durationMs: last?.duration ?? 0,
          ...(status === 'failed' ? { error: (last?.error?.message ?? '').slice(0, 2000) } : {}),
          // Failed, then passed on its retry (playwright.config.mjs: retries): counted as passed,
          // reported with the first attempt's error so that it can be found and fixed.
          ...(t.status === 'flaky'
            ? { flaky: true, error: (t.results?.[0]?.error?.message ?? '').slice(0, 2000) }
            : {}),
        })
        for (const a of t.annotations ?? []) if (a.type === 'axe') notes.push(a.description)
      }
    }
    for (const child of suite.suites ?? []) walk(child, child.file ?? file)
  }
  for (const suite of pw?.suites ?? []) walk(suite, suite.file)
  const count = (s) => tests.filter((t) => t.status === s).length
  let failed = count('failed')
  const errors = (pw?.errors ?? []).map((e) => e.message ?? String(e))
  if (problem) errors.unshift(problem)
  // A crash, a stack that never came up or a Playwright error outside any test is a failure too.
  if (!failed && (errors.length || exitCode !== 0)) failed = 1
  const result = {
    numPassedTests: count('passed'),
    numFailedTests: failed,
    numPendingTests: count('skipped'),
    numFlakyTests: tests.filter((t) => t.flaky).length,
    numTotalTests: tests.length,
    success: failed === 0 && count('passed') > 0,
    baseUrl,
    durationMs: Date.now() - started,
    errors,
    axeReportedOnly: [...new Set(notes)],
    testResults: tests,
  }
  mkdirSync(dirname(report), { recursive: true })
  writeFileSync(report, `${JSON.stringify(result, null, 2)}\n`)
  return result
}

async function main() {
  let baseUrl = (process.env.E2E_BASE_URL || '').replace(/\/+$/, '')
  let problem = ''
  let exitCode = 1
  const stopOnSignal = async (signal) => {
    say(`${signal}: stopping`)
    // Playwright closes its browsers on SIGTERM; Ctrl-C in a terminal has reached it already.
    if (playwright) playwright.kill('SIGTERM')
    await stopStack()
    rmSync(work, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  try {
    if (!baseUrl) baseUrl = await startStack()
    else say(`using the running stack at ${baseUrl}`)
    exitCode = await runPlaywright(baseUrl, process.argv.slice(2))
  } catch (err) {
    problem = err?.message ?? String(err)
    console.error(`e2e: ${problem}`)
  } finally {
    const hadStack = Boolean(stack)
    await stopStack()
    if (hadStack && (problem || exitCode !== 0) && existsSync(stackLog)) {
      const tail = readFileSync(stackLog, 'utf8').split('\n').slice(-40).join('\n')
      console.error(`--- last lines of ${stackLog} ---\n${tail}`)
    }
  }
  if (existsSync(playwrightJson)) {
    mkdirSync(join(frontend, 'test-results'), { recursive: true })
    copyFileSync(playwrightJson, join(frontend, 'test-results', 'e2e-playwright.json'))
  }
  const result = summarize(problem, exitCode, baseUrl)
  rmSync(work, { recursive: true, force: true })
  for (const note of result.axeReportedOnly) console.log(`axe (reported, not failed): ${note}`)
  // What failed, again at the end: CI shows the last lines of a run, and Playwright's own account of
  // a failure is far above them (before the stack's log).
  for (const t of result.testResults.filter((r) => r.status === 'failed' || r.flaky)) {
    const error = stripVTControlCharacters(t.error ?? '')
      .split('\n')
      .slice(0, 8)
      .join('\n    ')
    const what = t.flaky ? 'FLAKY (failed, then passed on its retry)' : 'FAILED'
    console.error(`${what} ${t.file} › ${t.title} (${Math.round(t.durationMs / 1000)} s)\n    ${error}`)
  }
  for (const e of result.errors) console.error(`ERROR ${e.split('\n').slice(0, 8).join('\n    ')}`)
  say(`report: ${report} (${Math.round(result.durationMs / 1000)} s in all)`)
  console.log(
    `e2e: ${result.numPassedTests} passed, ${result.numFailedTests} failed, ${result.numPendingTests} skipped`,
  )
  process.exit(result.success && exitCode === 0 ? 0 : 1)
}

main()
