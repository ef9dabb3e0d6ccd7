// The API docs (/api/docs/): Swagger UI renders and lists every operation of the live schema. Through
// `make e2e-stack` this is the production NGINX with its strict Content-Security-Policy, so the page must
// load without a CDN and without inline script (drf-spectacular-sidecar, split view). A screenshot goes
// to var/test-results/screenshots/api-docs.png.
import { expect, test } from '@playwright/test'
import { screenshotPath } from './helpers.mjs'

test('the API docs render in Chromium with every operation of the schema, under the CSP', async ({
  page,
  request,
}, testInfo) => {
  const schema = await (await request.get('/api/schema/?format=json')).json()
  const operations = Object.values(schema.paths).flatMap((item) =>
    Object.keys(item).filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key)),
  )
  expect(operations.length).toBeGreaterThan(10)

  // Anything the browser refuses (CSP), fails to load, or throws makes the page blank: all recorded.
  const problems = []
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`))
  const origin = new URL(testInfo.project.use.baseURL).origin
  const offSite = []
  page.on('request', (req) => {
    const url = new URL(req.url())
    if (url.protocol.startsWith('http') && url.origin !== origin) offSite.push(req.url())
  })

  const response = await page.goto('/api/docs/')
  expect(response.status()).toBe(200)
  const csp = response.headers()['content-security-policy']
  if (csp) {
    // Behind NGINX: the production policy, with no CDN and no inline script allowed.
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('jsdelivr')
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/)
  }

  // Swagger UI has fetched the schema and drawn one block per operation.
  await expect(page.locator('.swagger-ui .info .title')).toContainText(schema.info.title)
  await expect(page.locator('.opblock')).toHaveCount(operations.length)
  await expect(page.locator('.opblock-summary-path[data-path="/api/filers/"]')).toBeVisible()
  await expect(
    page.locator('.opblock-summary-path[data-path="/api/stripe/create-subscription/"]'),
  ).toBeVisible()

  await page.screenshot({ path: screenshotPath('api-docs'), fullPage: true, animations: 'disabled' })
  expect(problems, problems.join('\n')).toEqual([])
  expect(offSite, 'requests to other origins (a CDN)').toEqual([])
})
