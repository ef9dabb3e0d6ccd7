// A visitor who has not signed in: the landing page, browsing filers until the daily quota ends.
import { expect, test } from '@playwright/test'
import { priceWords, recordStripeJs, stripeConfig } from './helpers.mjs'

test('guest sees the price on the landing page and runs into the quota while browsing filers', async ({
  page,
  request,
}) => {
  const config = await stripeConfig(request)
  const stripeJs = recordStripeJs(page)

  await page.goto('/')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'guest')
  await expect(page.getByTestId('tier-badge')).toHaveText('Guest')
  await expect(page.getByTestId('home-price')).toHaveText(`${priceWords(config.price)}, cancel any time`)
  await expect(page.getByTestId('cta-sign-in')).toBeVisible()

  // Browse filers (client-side navigation) until the server says no. The guest limit is whatever the
  // stack was started with (make e2e: API_QUOTA_GUEST=5); it is read from the responses.
  const answers = []
  page.on('response', (res) => {
    if (new URL(res.url()).pathname.startsWith('/api/filers/')) answers.push(res)
  })
  await page.getByRole('link', { name: 'Browse filers' }).click()
  await expect(page).toHaveURL(/\/filers$/)
  const quotaBox = page.getByTestId('quota-exceeded')
  const results = page.getByTestId('filer-results')
  await expect(results.or(quotaBox)).toBeVisible()

  const queries = ['capital', 'management', 'acorn', 'kingdon', 'lts', 'one', 'llc', 'lp', 'creek', 'fund']
  let limit = null
  for (let i = 0; !(await quotaBox.isVisible()); i++) {
    const header = answers.find((r) => r.headers()['x-ratelimit-limit'])?.headers()['x-ratelimit-limit']
    if (header) limit = Number(header)
    expect(i, `no 429 after ${i} searches (limit ${limit})`).toBeLessThanOrEqual((limit ?? 20) + 2)
    const q = `${queries[i % queries.length]}${i >= queries.length ? i : ''}`
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/filers/')
    await page.getByTestId('filer-search-input').fill(q)
    await page.getByTestId('filer-search-button').click()
    await answered
    await expect(page).toHaveURL(new RegExp(`[?&]q=${q}`))
    await expect(results.or(quotaBox)).toBeVisible()
  }

  // The server's 429 and its sentence, shown as it is, with the way out.
  const refused = answers.filter((r) => r.status() === 429)
  expect(refused.length, 'the server answered 429').toBeGreaterThan(0)
  const body = await refused.at(-1).json()
  expect(refused.at(-1).headers()['retry-after'], 'Retry-After on the 429').toBeTruthy()
  expect(body.detail).toMatch(/premium/i)
  await expect(quotaBox).toContainText(body.detail)
  const allowed = answers.filter((r) => r.status() === 200)
  if (limit !== null) expect(allowed.length).toBeLessThanOrEqual(limit)
  await expect(quotaBox.getByTestId('upgrade-button')).toBeVisible()

  // Stripe.js belongs to the purchase page only.
  expect(stripeJs, 'Stripe.js requested on the home/filers pages').toEqual([])

  // The upgrade button leads a guest to sign in first.
  await quotaBox.getByTestId('upgrade-button').click()
  await expect(page).toHaveURL(/\/login\?next=(%2F|\/)premium$/)
  await expect(page.getByTestId('login-reason')).toHaveText('Sign in first; then you can buy Premium.')
  expect(stripeJs, 'Stripe.js requested before the purchase page').toEqual([])
})
