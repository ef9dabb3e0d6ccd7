// Path of a package's command-line entry point, to run it with this same Node (never a PATH lookup).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

export function binPath(pkg, name = pkg.split('/').pop()) {
  const manifestPath = require.resolve(`${pkg}/package.json`)
  const { bin } = JSON.parse(readFileSync(manifestPath, 'utf8'))
  const rel = typeof bin === 'string' ? bin : bin[name]
  return join(dirname(manifestPath), rel)
}
