// Sign-in, the premium gate, buying Premium (plain card, 3-D Secure, declines), cancel and resume.
// Each test signs in its own new user in its own browser context.
import { expect, test } from '@playwright/test'
import {
  CARDS,
  accountState,
  buyPremium,
  day,
  fillCard,
  markDocument,
  priceWords,
  recordStripeJs,
  signIn,
  stripeConfig,
  subscriptionState,
  uniqueEmail,
} from './helpers.mjs'

test('signs in through the LinkedIn stand-in and the account page shows Free', async ({ page }, testInfo) => {
  const email = uniqueEmail(testInfo)
  await page.goto('/')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'guest')
  await page.getByTestId('header-sign-in').click()
  await expect(page).toHaveURL(/\/login$/)

  // Two clicks: "Sign in with LinkedIn", then the stand-in's "Sign in" (with this test's e-mail).
  await page.getByTestId('linkedin-sign-in').click()
  await page.getByLabel('E-mail').fill(email)
  await page.getByRole('button', { name: 'Sign in' }).click()

  await expect(page).toHaveURL(/\/account$/)
  await expect(page.getByTestId('account-email')).toHaveText(email)
  await expect(page.getByTestId('account-tier')).toHaveText('Free')
  await expect(page.getByTestId('account-tier')).toHaveAttribute('data-tier', 'free')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'free')
  await expect(page.getByTestId('subscription-state')).toHaveAttribute('data-state', 'none')
  await expect(page.getByTestId('subscription-headline')).toHaveText('No subscription')
  await expect(page.getByTestId('get-premium')).toBeVisible()
  await expect(page.getByTestId('sign-out')).toBeVisible()

  const account = await accountState(page)
  expect(account).toMatchObject({ email, tier: 'free' })
})

test('free user meets the premium gate, buys with 4242 and premium pages open without a reload', async ({
  page,
}, testInfo) => {
  const config = await stripeConfig(page.request)
  const stripeJs = recordStripeJs(page)
  await signIn(page, uniqueEmail(testInfo))

  // Filers → a filer → "all holdings": the free tier sees why, and the way to Premium.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Filers' }).click()
  const first = page.getByTestId('filer-results').getByRole('link').first()
  await expect(first).toBeVisible()
  await first.click()
  await expect(page.getByTestId('top-holdings')).toBeVisible()
  const cik = new URL(page.url()).pathname.split('/')[2]
  expect(cik).toMatch(/^\d+$/)
  await page.getByTestId('all-holdings').click()
  await expect(page).toHaveURL(new RegExp(`/filers/${cik}/holdings$`))
  const gate = page.getByTestId('premium-gate')
  await expect(gate).toHaveAttribute('data-access', 'upgrade')
  await expect(gate).toContainText('Premium feature')
  await expect(gate).toContainText('The full list of holdings is part of Premium.')
  await expect(gate).toContainText('Your account is on the free tier.')
  await expect(page.getByTestId('holdings-table')).toHaveCount(0)
  const denied = await page.request.get(`/api/filers/${cik}/holdings/`)
  expect(denied.status(), 'the server refuses a free user the full holdings').toBe(403)
  expect((await denied.json()).detail).toMatch(/premium/i)

  // Stripe.js has not been asked for on any page so far; the purchase page asks for it.
  expect(stripeJs, 'Stripe.js requested before the purchase page').toEqual([])
  const stripeJsLoaded = page.waitForRequest((r) => /\/js\.stripe\.com\/v3/.test(r.url()))
  await gate.getByTestId('upgrade-button').click()
  await expect(page).toHaveURL(/\/premium$/)
  await stripeJsLoaded
  await expect(page.getByTestId('price-terms')).toHaveText(`${priceWords(config.price)}, cancel any time.`)

  // Buy, then use premium pages in the same document.
  const notReloaded = await markDocument(page)
  await fillCard(page, CARDS.ok)
  await page.getByTestId('purchase-button').click()
  const success = page.getByTestId('purchase-success')
  await expect(success).toContainText('You are Premium now')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
  await expect(page.getByTestId('purchase-error')).toHaveCount(0)

  await page.getByRole('link', { name: 'Browse filers' }).click()
  await page.getByTestId('filer-results').getByRole('link').first().click()
  await page.getByTestId('all-holdings').click()
  await expect(page.getByTestId('premium-gate')).toHaveCount(0)
  await expect(page.getByTestId('holdings-table').locator('tbody tr').first()).toBeVisible()
  await notReloaded()

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click()
  await expect(page.getByTestId('account-tier')).toHaveText('Premium')
  await expect(page.getByTestId('subscription-state')).toHaveAttribute('data-state', 'active')
  const status = await subscriptionState(page)
  expect(status).toMatchObject({ state: 'active', premium: true, cancel_at_period_end: false })
  await expect(page.getByTestId('subscription-headline')).toHaveText(
    `Premium until ${day(status.premium_until || status.current_period_end)}`,
  )
  await notReloaded()

  expect((await accountState(page)).tier).toBe('premium')
  expect((await page.request.get(`/api/filers/${cik}/holdings/`)).status()).toBe(200)
})

test('cancel at period end keeps Premium until then; resume makes it active again', async ({
  page,
}, testInfo) => {
  await signIn(page, uniqueEmail(testInfo))
  await buyPremium(page)
  await page.getByTestId('go-account').click()
  await expect(page.getByTestId('subscription-state')).toHaveAttribute('data-state', 'active')
  const before = await subscriptionState(page)
  const until = day(before.premium_until || before.current_period_end)

  await page.getByTestId('cancel-subscription').click()
  const dialog = page.getByRole('dialog')
  await expect(page.getByTestId('cancel-dialog-text')).toContainText(`Premium stays on until ${until}`)
  await page.getByTestId('cancel-confirm').click()
  await expect(dialog).toBeHidden()

  await expect(page.getByTestId('subscription-state')).toHaveAttribute('data-state', 'cancelling')
  await expect(page.getByTestId('subscription-headline')).toHaveText(`Cancels on ${until}`)
  await expect(page.getByTestId('account-tier')).toHaveText('Premium')
  await expect(page.getByTestId('cancel-subscription')).toHaveCount(0)
  expect(await subscriptionState(page)).toMatchObject({
    state: 'cancelling',
    premium: true,
    cancel_at_period_end: true,
  })
  expect((await accountState(page)).tier).toBe('premium')

  // What the server keeps is what a new page load shows.
  await page.reload()
  await expect(page.getByTestId('subscription-headline')).toHaveText(`Cancels on ${until}`)

  await page.getByTestId('resume-subscription').click()
  await expect(page.getByTestId('subscription-state')).toHaveAttribute('data-state', 'active')
  await expect(page.getByTestId('subscription-headline')).toHaveText(`Premium until ${until}`)
  await expect(page.getByTestId('resume-subscription')).toHaveCount(0)
  await expect(page.getByTestId('cancel-subscription')).toBeVisible()
  expect(await subscriptionState(page)).toMatchObject({
    state: 'active',
    premium: true,
    cancel_at_period_end: false,
  })
})

test('3-D Secure card: completing the challenge makes the account Premium', async ({ page }, testInfo) => {
  await signIn(page, uniqueEmail(testInfo))
  await page.goto('/premium')
  await fillCard(page, CARDS.threeDSecure)
  await page.getByTestId('purchase-button').click()

  const challenge = page.getByRole('dialog')
  await expect(challenge.getByRole('button', { name: 'Complete authentication' })).toBeVisible()
  await challenge.getByRole('button', { name: 'Complete authentication' }).click()

  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
  expect((await accountState(page)).tier).toBe('premium')
  expect(await subscriptionState(page)).toMatchObject({ state: 'active', premium: true })
})

test('3-D Secure card: a failed challenge leaves the account free and says why', async ({
  page,
}, testInfo) => {
  await signIn(page, uniqueEmail(testInfo))
  await page.goto('/premium')
  await fillCard(page, CARDS.threeDSecure)
  await page.getByTestId('purchase-button').click()

  const challenge = page.getByRole('dialog')
  await challenge.getByRole('button', { name: 'Fail authentication' }).click()
  await expect(challenge).toBeHidden()

  const error = page.getByTestId('purchase-error')
  await expect(error).toBeVisible()
  await expect(error).toContainText(/authenticat/i)
  await expect(page.getByTestId('purchase-success')).toHaveCount(0)
  await expect(page.getByTestId('purchase-button')).toBeEnabled()
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'free')
  expect((await accountState(page)).tier).toBe('free')
  expect((await subscriptionState(page)).premium).toBe(false)
})

test('declined card: a message, still free; then 4242 buys Premium', async ({ page }, testInfo) => {
  await signIn(page, uniqueEmail(testInfo))
  await page.goto('/premium')
  await fillCard(page, CARDS.declined)
  await page.getByTestId('purchase-button').click()

  const error = page.getByTestId('purchase-error')
  await expect(error).toContainText(/declined/i)
  await expect(page.getByTestId('purchase-success')).toHaveCount(0)
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'free')
  expect((await accountState(page)).tier).toBe('free')
  expect((await subscriptionState(page)).premium).toBe(false)

  await fillCard(page, CARDS.ok)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  await expect(error).toHaveCount(0)
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
  expect((await accountState(page)).tier).toBe('premium')
  expect(await subscriptionState(page)).toMatchObject({ state: 'active', premium: true })
})
