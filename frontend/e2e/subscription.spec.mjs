// Sign-in, the premium gate, buying Premium with the Payment Element (plain card, 3-D Secure,
// declines, an incomplete form, the way back from a redirect, a phone), cancel and resume.
// Each test signs in its own new user in its own browser context.
import { expect, test } from '@playwright/test'
import {
  CARDS,
  STRIPE_URL,
  accountState,
  buyPremium,
  day,
  expiry,
  fillCard,
  markDocument,
  priceWords,
  recordStripeJs,
  signIn,
  stripeConfig,
  stripeRequestsOf,
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
  await expect(page.getByTestId('payment-error')).toHaveCount(0)

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

  const error = page.getByTestId('payment-error')
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

  const error = page.getByTestId('payment-error')
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

test("an empty or half-typed card form shows the field's error and creates no subscription", async ({
  page,
  request,
}, testInfo) => {
  test.skip(!STRIPE_URL, 'needs the Stripe stand-in URL (E2E_STRIPE_URL; make e2e sets it)')
  await signIn(page, uniqueEmail(testInfo))
  const { id } = await accountState(page)
  const creates = []
  page.on('request', (r) => {
    if (r.url().includes('/api/stripe/create-subscription/')) creates.push(r.url())
  })
  await page.goto('/premium')
  const purchase = page.getByTestId('purchase-button')
  await expect(purchase).toBeEnabled()

  // Empty: the element marks every field and focuses the first; the page says what is missing.
  await purchase.click()
  await expect(page.getByTestId('payment-error')).toHaveText('Your card number is incomplete.')
  const number = page.getByRole('textbox', { name: 'Card number' })
  await expect(number).toHaveAttribute('aria-invalid', 'true')
  await expect(number).toHaveAccessibleDescription('Your card number is incomplete.')
  await expect(number).toBeFocused()
  await expect(page.getByRole('textbox', { name: 'Expiration date' })).toHaveAccessibleDescription(
    "Your card's expiration date is incomplete.",
  )

  // Half-typed: a whole card number, a month without its year.
  await number.fill(CARDS.ok)
  await page.getByTestId('card-expiry').fill('12')
  await purchase.click()
  await expect(page.getByTestId('payment-error')).toHaveText("Your card's expiration date is incomplete.")
  await expect(page.getByTestId('card-expiry')).toBeFocused()
  await expect(number).not.toHaveAttribute('aria-invalid', 'true')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'free')

  // Nothing reached the server's purchase endpoint, nor Stripe, for this user.
  expect(creates, 'POST /api/stripe/create-subscription/ from the page').toEqual([])
  expect(await stripeRequestsOf(request, id), "Stripe requests for this user's purchase").toEqual([])
  expect((await subscriptionState(page)).state).toBe('none')

  // Completed: now, and only now, Stripe gets this user's customer and subscription.
  await fillCard(page, CARDS.ok)
  await purchase.click()
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  expect(creates).toHaveLength(1)
  const made = (await stripeRequestsOf(request, id)).map((e) => `${e.method} ${e.path} ${e.status}`)
  expect(made).toEqual(['POST /v1/customers 200', 'POST /v1/subscriptions 200'])
})

test('a payment method that leaves the page: its return URL finishes the purchase', async ({
  page,
}, testInfo) => {
  const config = await stripeConfig(page.request)
  await signIn(page, uniqueEmail(testInfo))
  await page.goto('/premium')
  await expect(page.getByTestId('purchase-button')).toBeEnabled()

  // What a redirecting method does, step by step: the page's Purchase creates the incomplete
  // subscription; the customer pays on the bank's page (here: Stripe.js confirms the first
  // invoice's PaymentIntent outside the app's flow); the bank sends the browser to return_url.
  const paid = await page.evaluate(async (pk) => {
    const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? ''
    const res = await fetch('/api/stripe/create-subscription/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(csrf) },
      body: '{}',
    })
    const created = await res.json()
    const { paymentIntent, error } = await window.Stripe(pk).confirmPayment({
      clientSecret: created.client_secret,
      confirmParams: { payment_method: 'pm_card_visa', return_url: `${location.origin}/premium` },
      redirect: 'if_required',
    })
    return { status: res.status, secret: created.client_secret, intent: paymentIntent, error }
  }, config.publishable_key)
  expect(paid.status, 'create-subscription').toBe(201)
  expect(paid.error).toBeUndefined()
  expect(paid.intent.status).toBe('succeeded')

  const synced = page.waitForRequest(
    (r) => r.method() === 'POST' && r.url().endsWith('/api/stripe/subscription/sync/'),
  )
  await page.goto(
    `/premium?payment_intent=${paid.intent.id}&payment_intent_client_secret=${paid.secret}` +
      '&redirect_status=succeeded',
  )
  await synced
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  await expect(page.getByTestId('after-purchase')).toBeVisible()
  await expect(page).toHaveURL(/\/premium$/) // the client secret left the address bar
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
  expect(await subscriptionState(page)).toMatchObject({ state: 'active', premium: true })
})

test('a redirect back after a failed payment: the reason, still free, and the same page retries', async ({
  page,
}, testInfo) => {
  const config = await stripeConfig(page.request)
  await signIn(page, uniqueEmail(testInfo))
  await page.goto('/premium')
  await expect(page.getByTestId('purchase-button')).toBeEnabled()
  const failed = await page.evaluate(async (pk) => {
    const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? ''
    const res = await fetch('/api/stripe/create-subscription/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(csrf) },
      body: '{}',
    })
    const created = await res.json()
    const { error } = await window.Stripe(pk).confirmPayment({
      clientSecret: created.client_secret,
      confirmParams: { payment_method: 'pm_card_chargeDeclined', return_url: `${location.origin}/premium` },
      redirect: 'if_required',
    })
    return { secret: created.client_secret, error }
  }, config.publishable_key)
  expect(failed.error.code).toBe('card_declined')
  const id = failed.secret.split('_secret_')[0]

  await page.goto(
    `/premium?payment_intent=${id}&payment_intent_client_secret=${failed.secret}&redirect_status=failed`,
  )
  await expect(page.getByTestId('payment-error')).toHaveText('Your card was declined.')
  await expect(page).toHaveURL(/\/premium$/)
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'free')

  await fillCard(page, CARDS.ok)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  const status = await subscriptionState(page)
  expect(status).toMatchObject({ state: 'active', premium: true, subscription_id: expect.any(String) })
})

test.describe('on a phone-sized screen', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })

  test('the card form fits the screen and 4242 buys Premium', async ({ page }, testInfo) => {
    await signIn(page, uniqueEmail(testInfo))
    await page.goto('/premium')
    await fillCard(page, CARDS.ok)
    await expect(page.getByTestId('card-expiry')).toHaveValue(expiry())
    // No sideways scrolling, and every field wholly on the screen.
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    )
    expect(overflow, 'horizontal overflow in px').toBeLessThanOrEqual(0)
    for (const testId of ['card-number', 'card-expiry', 'card-cvc', 'card-country', 'card-postal-code']) {
      const box = await page.getByTestId(testId).boundingBox()
      expect(box.x, `${testId} starts on screen`).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width, `${testId} ends on screen`).toBeLessThanOrEqual(390)
      expect(box.height, `${testId} is tall enough to tap`).toBeGreaterThanOrEqual(40)
    }
    const purchase = page.getByTestId('purchase-button')
    await purchase.scrollIntoViewIfNeeded()
    await purchase.tap()
    await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
    expect(await subscriptionState(page)).toMatchObject({ state: 'active', premium: true })
  })
})
