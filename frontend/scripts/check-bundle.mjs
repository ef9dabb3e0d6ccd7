#!/usr/bin/env node
// Builds the SPA and fails if dist/spa carries anything that must never ship to browsers:
// a secret key (sk_), a test publishable key, or a dev/stand-in host. One build serves every
// environment because the keys and Stripe.js URL come from GET /api/stripe/config/ at run time.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { binPath } from './bin.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist', 'spa')
const FORBIDDEN = ['sk_', 'pk_test_', 'localhost', '127.0.0.1', 'localstripe']

// What the build is made of: when none of it changed since the last build (its digest is kept
// in dist/.build-inputs), the bundle in dist/spa is that build and is only checked again.
// `make test` builds for `make e2e` and again for `make e2e-stack`: the second is skipped.
const INPUTS = ['src', 'public', 'index.html', 'quasar.config.js', 'package.json', 'package-lock.json']
const stamp = join(root, 'dist', '.build-inputs')

function inputsDigest() {
  const hash = createHash('sha256')
  hash.update(`node ${process.version}\n`)
  const add = (path) => {
    if (!existsSync(path)) return
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) add(join(path, name))
    } else {
      hash.update(`${relative(root, path)}\0`)
      hash.update(readFileSync(path))
      hash.update('\0')
    }
  }
  for (const input of INPUTS) add(join(root, input))
  return hash.digest('hex')
}

if (!process.argv.includes('--no-build')) {
  const digest = inputsDigest()
  const built = existsSync(stamp) && existsSync(join(dist, 'index.html')) ? readFileSync(stamp, 'utf8') : ''
  if (built === digest && !process.argv.includes('--force')) {
    console.log('+ quasar build: skipped, nothing changed since the last build (--force builds)')
  } else {
    const quasarBin = binPath('@quasar/app-vite', 'quasar')
    console.log('+ quasar build')
    rmSync(stamp, { force: true })
    const build = spawnSync(process.execPath, [quasarBin, 'build'], { cwd: root, stdio: 'inherit' })
    if (build.status !== 0) {
      console.error('check:bundle: the build failed')
      process.exit(build.status || 1)
    }
    writeFileSync(stamp, digest)
  }
}

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else yield path
  }
}

const problems = []
let count = 0
for (const file of files(dist)) {
  count += 1
  const text = readFileSync(file, 'latin1')
  for (const needle of FORBIDDEN) {
    let at = text.indexOf(needle)
    while (at !== -1) {
      const context = text.slice(Math.max(0, at - 40), at + needle.length + 40).replace(/\s+/g, ' ')
      problems.push(`${relative(root, file)}: "${needle}" in …${context}…`)
      at = text.indexOf(needle, at + needle.length)
    }
  }
}

if (count === 0) {
  console.error(`check:bundle: ${relative(root, dist)} is empty`)
  process.exit(1)
}
if (problems.length) {
  console.error(`check:bundle: ${problems.length} forbidden string(s) in the bundle:`)
  for (const p of problems) console.error(`  ${p}`)
  process.exit(1)
}
console.log(`check:bundle: ${count} files in ${relative(root, dist)}, none contains ${FORBIDDEN.join(', ')}`)
