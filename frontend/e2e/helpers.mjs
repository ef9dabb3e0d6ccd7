// Shared steps of the browser journey. Every URL comes from the base URL (playwright.config.mjs)
// and from GET /api/stripe/config/, so the tests do not care how the stack was started.
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { expect } from '@playwright/test'

export const CARDS = {
  ok: '4242424242424242',
  threeDSecure: '4000002500003155',
  declined: '4000000000000002',
  // Asks for 3-D Secure on every payment, renewals (off-session) included.
  alwaysAuthenticate: '4000002760003184',
  // Saved without trouble, but every charge is declined.
  chargeDeclined: '4000000000000341',
}

// Test runs keep their pictures with the test results; `make screenshots` writes the README's.
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS_DIR
  ? process.env.E2E_SCREENSHOTS_DIR.replace(/\/?$/, '/')
  : fileURLToPath(new URL('../../var/test-results/screenshots/', import.meta.url))

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** Like the app: ISO-8601 → "26 Dec 2026" in UTC. */
export function day(iso) {
  const d = new Date(iso)
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`
}

/** Stripe price → the words a person should read, e.g. "USD 20.00 per month". */
export function priceWords(price) {
  const amount = (price.unit_amount / 100).toFixed(2)
  return `${price.currency.toUpperCase()} ${amount}${price.interval ? ` per ${price.interval}` : ''}`
}

/** A new e-mail per test: tests never share a user, and reruns against one stack never collide. */
export function uniqueEmail(testInfo, prefix = 'e2e') {
  const slug = testInfo.title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 30)
  return `${prefix}-${slug}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}@example.com`
}

export async function stripeConfig(request) {
  const res = await request.get('/api/stripe/config/')
  expect(res.status(), 'GET /api/stripe/config/').toBe(200)
  return res.json()
}

/** Server state of the signed-in user of this page's context (same cookies). */
export async function accountState(page) {
  const res = await page.request.get('/api/account/')
  expect(res.status(), 'GET /api/account/').toBe(200)
  return res.json()
}

export async function subscriptionState(page) {
  const res = await page.request.get('/api/stripe/subscription/')
  expect(res.status(), 'GET /api/stripe/subscription/').toBe(200)
  return res.json()
}

/** Requests for Stripe.js (the official host or the stand-in's same-origin path). */
export function recordStripeJs(page) {
  const seen = []
  page.on('request', (req) => {
    const url = req.url()
    if (/\/\/js\.stripe\.com\/|\/js\.stripe\.com\/v3/.test(url)) seen.push(url)
  })
  return seen
}

/**
 * Sign in through the LinkedIn stand-in: "Sign in with LinkedIn", then the stand-in's "Sign in"
 * with this test's own e-mail. Ends on the account page.
 */
export async function signIn(page, email, { name = 'Dana Demo', from = '/login' } = {}) {
  await page.goto(from)
  await page.getByTestId('linkedin-sign-in').click()
  // The stand-in's "Sign in as" form (real LinkedIn in production).
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByLabel('E-mail').fill(email)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page).toHaveURL(/\/account$/)
  await expect(page.getByTestId('account-email')).toHaveText(email)
}

/** A card expiry three years ahead, as typed into the Payment Element: "12 / 29". */
export function expiry() {
  return `12 / ${String((new Date().getUTCFullYear() + 3) % 100).padStart(2, '0')}`
}

/**
 * The Payment Element of a card form: the stand-in's fields (labelled like Stripe's; their
 * data-test is set by its Stripe.js, the app knows nothing of them).
 */
export async function fillCard(page, number) {
  await expect(page.getByTestId('card-number')).toBeVisible()
  await page.getByTestId('card-number').fill(number)
  await page.getByTestId('card-expiry').fill(expiry())
  await page.getByTestId('card-cvc').fill('123')
  await page.getByTestId('card-country').selectOption('US')
  await page.getByTestId('card-postal-code').fill('10001')
}

// The Stripe stand-in's own URL (run.mjs reads it from the stack's ready file).
export const STRIPE_URL = (process.env.E2E_STRIPE_URL || '').replace(/\/+$/, '')

/**
 * What the app asked of Stripe for one user: the stand-in's request journal
 * (GET <stripe>/_config/requests), kept to the requests whose idempotency key the backend made for
 * this user id (`user-<id>-...`: every customer and subscription create carries one). Other tests
 * run at the same time, so the journal as a whole says nothing about this test.
 */
export async function stripeRequestsOf(request, userId) {
  const res = await request.get(`${STRIPE_URL}/_config/requests`)
  expect(res.status(), 'GET <stripe>/_config/requests').toBe(200)
  const prefix = `user-${userId}-`
  return (await res.json()).filter((entry) => entry.idempotency_key?.startsWith(prefix))
}

/** Premium page → card → Purchase → success banner (no 3-D Secure). */
export async function buyPremium(page, number = CARDS.ok) {
  await page.goto('/premium')
  await fillCard(page, number)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
}

/** A mark in the page's JS heap: gone after any full page load. */
export async function markDocument(page) {
  const mark = randomBytes(6).toString('hex')
  await page.evaluate((m) => {
    window.__e2eMark = m
  }, mark)
  return async () => {
    const still = await page.evaluate(() => window.__e2eMark)
    expect(still, 'the page was not reloaded').toBe(mark)
  }
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true })
  return `${SCREENSHOTS}${name}.png`
}

// The dev mailbox of the stack (run.mjs reads it from the ready file): JSON with ?format=json.
export const MAILBOX_URL = process.env.E2E_MAILBOX_URL || ''

/**
 * The stand-in's clock for one subscription: `renew` (the next period's invoice, charged off-session
 * to the default card) or `fail_renewal` (that charge declined, whatever the card). No API key.
 */
export async function stripeClock(request, subscriptionId, action) {
  const res = await request.post(`${STRIPE_URL}/_config/subscriptions/${subscriptionId}/${action}`)
  expect(res.status(), `POST <stripe>/_config/subscriptions/<id>/${action}`).toBe(200)
  return res.json()
}

/** The e-mails the dev mail server received for one address, newest first. */
export async function mailsTo(request, email) {
  const url = new URL(MAILBOX_URL)
  url.searchParams.set('format', 'json')
  const res = await request.get(url.href, { headers: { Accept: 'application/json' } })
  expect(res.status(), 'GET <mailbox>?format=json').toBe(200)
  const { messages } = await res.json()
  return messages.filter((m) => String(m.to).toLowerCase().includes(email.toLowerCase()))
}

/** Waits (the mail leaves through Celery) until `count` e-mails to `email` have a subject matching `subject`. */
export async function waitForMails(request, email, subject, { count = 1, timeout = 30_000 } = {}) {
  let found = []
  await expect
    .poll(
      async () => {
        found = (await mailsTo(request, email)).filter((m) => subject.test(m.subject))
        return found.length
      },
      { message: `e-mails to ${email} with the subject ${subject}`, timeout },
    )
    .toBeGreaterThanOrEqual(count)
  return found
}

/** Waits until the server (webhooks through Celery) says the status object has this payment problem kind (or null). */
export async function waitForPaymentProblem(page, kind, { timeout = 30_000 } = {}) {
  let status = null
  await expect
    .poll(
      async () => {
        status = await subscriptionState(page)
        return status.payment_problem?.kind ?? null
      },
      { message: `payment_problem.kind becomes ${kind}`, timeout },
    )
    .toBe(kind)
  return status
}

/** GET /api/stripe/invoices/ (first page) of the signed-in user. */
export async function invoicesOf(page) {
  const res = await page.request.get('/api/stripe/invoices/')
  expect(res.status(), 'GET /api/stripe/invoices/').toBe(200)
  return res.json()
}

/** GET /api/stripe/payment-method/ of the signed-in user: the card or null. */
export async function cardOf(page) {
  const res = await page.request.get('/api/stripe/payment-method/')
  expect(res.status(), 'GET /api/stripe/payment-method/').toBe(200)
  return (await res.json()).payment_method
}
