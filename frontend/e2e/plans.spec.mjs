// Plans, switching with a preview, the free trial and promotion codes (issue 15), in Chromium against
// the stack: buy yearly; monthly → yearly with Stripe's preview and the prorated charge on the
// invoices list (the amount charged equals the preview); yearly → monthly scheduled, then called off
// ("Keep yearly"); a free trial started with the card up front → trialing/premium → the stand-in's
// clock ends it → active and charged; the demo code WELCOME50 → first invoice USD 10.00; an unknown
// code → the server's sentence. Each test signs in its own new user; every step is checked on the
// page and on the server.
import { expect, test } from '@playwright/test'
import {
  CARDS,
  STRIPE_URL,
  day,
  fillCard,
  invoicesOf,
  signIn,
  stripeConfig,
  subscriptionState,
  uniqueEmail,
} from './helpers.mjs'

const NEEDS_STRIPE = 'needs the Stripe stand-in (E2E_STRIPE_URL; make e2e sets it)'

/** "USD 10.00", as the purchase and account pages write amounts. */
function money(amount, currency = 'usd') {
  return `${currency.toUpperCase()} ${(amount / 100).toFixed(2)}`
}

/** The config's two prices (monthly first). */
async function plans(request) {
  const config = await stripeConfig(request)
  expect(config.prices?.length, 'config prices: monthly and yearly').toBe(2)
  const monthly = config.prices.find((price) => price.interval === 'month')
  const yearly = config.prices.find((price) => price.interval === 'year')
  expect(monthly && yearly).toBeTruthy()
  return { config, monthly, yearly }
}

/** Premium page → (yearly) → card → Purchase → success. */
async function buy(page, { interval = 'month', number = CARDS.ok } = {}) {
  await page.goto('/premium')
  if (interval === 'year') {
    await page.locator('[data-test="plan-option"][data-interval="year"]').click()
    await expect(page.locator('[data-test="plan-option"][data-interval="year"]')).toHaveAttribute(
      'aria-checked',
      'true',
    )
  }
  await fillCard(page, number)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
}

/** The stand-in's 3-D Secure box (real Stripe: the bank's page in an iframe). */
async function completeAuthentication(page) {
  const box = page
    .getByRole('dialog')
    .filter({ has: page.getByRole('button', { name: 'Complete authentication' }) })
  await box.getByRole('button', { name: 'Complete authentication' }).click()
  await expect(box).toBeHidden()
}

/** Polls the server until the status object matches (webhooks through Celery). */
async function waitForStatus(page, check, message, timeout = 30_000) {
  let status = null
  await expect
    .poll(
      async () => {
        status = await subscriptionState(page)
        return check(status)
      },
      { message, timeout },
    )
    .toBe(true)
  return status
}

test.describe('plans', () => {
  test.describe.configure({ timeout: 120_000 })

  test('buy yearly: the saving is computed from the two prices, the first invoice is the yearly price', async ({
    page,
    request,
  }, testInfo) => {
    const { monthly, yearly } = await plans(request)
    await signIn(page, uniqueEmail(testInfo))
    await page.goto('/premium')
    const saving = monthly.unit_amount * 12 - yearly.unit_amount
    const percent = Math.round((saving / (monthly.unit_amount * 12)) * 100)
    await expect(page.locator('[data-test="plan-option"][data-interval="month"]')).toHaveText(
      `Monthly: ${money(monthly.unit_amount)}/month`,
    )
    await expect(page.locator('[data-test="plan-option"][data-interval="year"]')).toHaveText(
      `Yearly: ${money(yearly.unit_amount)}/year, save ${money(saving)} (${percent}%) against 12 monthly payments`,
    )
    await buy(page, { interval: 'year' })

    const status = await subscriptionState(page)
    expect(status).toMatchObject({ state: 'active', premium: true, interval: 'year' })
    expect(status.price.id).toBe(yearly.id)
    const [first] = (await invoicesOf(page)).results
    expect(first).toMatchObject({ status: 'paid', amount_paid: yearly.unit_amount })

    await page.goto('/account')
    await expect(page.getByTestId('plan-current')).toHaveText(
      `Yearly plan: ${money(yearly.unit_amount)}/year`,
    )
    await expect(page.getByTestId('switch-plan')).toHaveText('Switch to monthly')
  })

  test('monthly → yearly: the preview, then the prorated charge on the invoices list, equal to the preview', async ({
    page,
    request,
  }, testInfo) => {
    const { monthly, yearly } = await plans(request)
    await signIn(page, uniqueEmail(testInfo))
    await buy(page)
    await page.goto('/account')
    await expect(page.getByTestId('plan-current')).toHaveText(
      `Monthly plan: ${money(monthly.unit_amount)}/month`,
    )
    await expect(page.getByTestId('invoice-row')).toHaveCount(1)

    const previewAnswer = page.waitForResponse((res) =>
      res.url().includes('/api/stripe/subscription/preview-change/'),
    )
    await page.getByTestId('switch-plan').click()
    const preview = await (await previewAnswer).json()
    expect(preview).toMatchObject({ timing: 'now', currency: 'usd' })
    expect(preview.price.id).toBe(yearly.id)
    // Less than the full year (the unused month is credited), more than nothing.
    expect(preview.amount_due).toBeGreaterThan(0)
    expect(preview.amount_due).toBeLessThan(yearly.unit_amount)
    expect(preview.lines.some((line) => line.proration && line.amount < 0)).toBe(true)

    const dialog = page.getByTestId('plan-preview-dialog')
    await expect(dialog).toBeVisible()
    await expect(page.getByRole('dialog', { name: 'Switch to yearly?' })).toBeVisible()
    await expect(page.getByTestId('plan-preview-amount')).toHaveText(money(preview.amount_due))
    await expect(page.getByTestId('plan-preview-line')).toHaveCount(preview.lines.length)
    await page.getByTestId('plan-confirm').click()
    await expect(page.getByTestId('plan-notice')).toHaveText(
      `You are on the yearly plan now. ${money(preview.amount_due)} was charged.`,
    )
    await expect(page.getByTestId('plan-current')).toHaveText(
      `Yearly plan: ${money(yearly.unit_amount)}/year`,
    )

    // The prorated invoice is on the list, newest first, for exactly the previewed amount.
    await expect(page.getByTestId('invoice-row')).toHaveCount(2)
    await expect(page.getByTestId('invoice-row').first()).toContainText(
      new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(preview.amount_due / 100),
    )
    const [prorated] = (await invoicesOf(page)).results
    expect(prorated).toMatchObject({ status: 'paid', amount_paid: preview.amount_due })
    const status = await subscriptionState(page)
    expect(status).toMatchObject({ state: 'active', premium: true, interval: 'year', scheduled_change: null })
  })

  test("monthly → yearly with a card that always asks for 3-D Secure: the bank's box for the prorated charge, then yearly", async ({
    page,
    request,
  }, testInfo) => {
    const { yearly } = await plans(request)
    await signIn(page, uniqueEmail(testInfo))
    await page.goto('/premium')
    await fillCard(page, CARDS.alwaysAuthenticate)
    await page.getByTestId('purchase-button').click()
    await completeAuthentication(page)
    await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')

    await page.goto('/account')
    const previewAnswer = page.waitForResponse((res) =>
      res.url().includes('/api/stripe/subscription/preview-change/'),
    )
    await page.getByTestId('switch-plan').click()
    const preview = await (await previewAnswer).json()
    await page.getByTestId('plan-confirm').click()
    // The change answers with the open invoice's secret: stripe.handleNextAction shows the box.
    await completeAuthentication(page)
    await expect(page.getByTestId('plan-notice')).toHaveText(
      `You are on the yearly plan now. ${money(preview.amount_due)} was charged.`,
    )
    const status = await waitForStatus(
      page,
      (s) => s.interval === 'year',
      'the plan is yearly after 3-D Secure',
    )
    expect(status).toMatchObject({ state: 'active', premium: true })
    expect(status.price.id).toBe(yearly.id)
    const [prorated] = (await invoicesOf(page)).results
    expect(prorated).toMatchObject({ status: 'paid', amount_paid: preview.amount_due })
  })

  test("monthly → yearly with a card that is refused: Stripe's sentence in the dialog, still monthly, nothing charged", async ({
    page,
    request,
  }, testInfo) => {
    const { monthly } = await plans(request)
    await signIn(page, uniqueEmail(testInfo))
    await buy(page)
    await page.goto('/account')
    // A card that saves but whose every charge is declined becomes the one renewals charge.
    await page.getByTestId('change-card').click()
    await fillCard(page, CARDS.chargeDeclined)
    await page.getByTestId('change-card-submit').click()
    await expect(page.getByTestId('card-saved')).toBeVisible()
    const before = (await invoicesOf(page)).results

    await page.getByTestId('switch-plan').click()
    await expect(page.getByTestId('plan-preview-amount')).toBeVisible()
    await page.getByTestId('plan-confirm').click()
    await expect(page.getByTestId('plan-preview-error')).toHaveText('Your card was declined.')
    await page.getByTestId('plan-preview-cancel').click()
    await expect(page.getByTestId('plan-current')).toHaveText(
      `Monthly plan: ${money(monthly.unit_amount)}/month`,
    )

    const status = await subscriptionState(page)
    expect(status).toMatchObject({ state: 'active', premium: true, interval: 'month', payment_problem: null })
    // Nothing was charged, and nothing is left open.
    const after = (await invoicesOf(page)).results
    expect(after.filter((invoice) => invoice.status === 'paid')).toHaveLength(
      before.filter((invoice) => invoice.status === 'paid').length,
    )
    expect(after.some((invoice) => invoice.status === 'open')).toBe(false)
  })

  test('yearly → monthly is scheduled for the end of the paid year, and "Keep yearly" calls it off', async ({
    page,
    request,
  }, testInfo) => {
    const { monthly } = await plans(request)
    await signIn(page, uniqueEmail(testInfo))
    await buy(page, { interval: 'year' })
    const before = await subscriptionState(page)
    await page.goto('/account')

    await page.getByTestId('switch-plan').click()
    await expect(page.getByTestId('plan-preview-summary')).toHaveText(
      `Nothing is charged now. Your plan changes to monthly on ${day(before.current_period_end)}; from then you pay ${money(monthly.unit_amount)}/month.`,
    )
    await page.getByTestId('plan-confirm').click()
    await expect(page.getByTestId('plan-scheduled')).toHaveText(
      `Changes to monthly on ${day(before.current_period_end)} (${money(monthly.unit_amount)}/month from then).`,
    )
    const scheduled = await subscriptionState(page)
    expect(scheduled).toMatchObject({ state: 'active', interval: 'year' })
    expect(scheduled.scheduled_change).toMatchObject({ interval: 'month' })
    expect(day(scheduled.scheduled_change.effective_at)).toBe(day(before.current_period_end))
    // Nothing was charged: still the one yearly invoice.
    expect((await invoicesOf(page)).results).toHaveLength(1)

    // It survives a reload, then Keep yearly releases the schedule.
    await page.reload()
    await expect(page.getByTestId('plan-scheduled')).toContainText('Changes to monthly on')
    await page.getByTestId('keep-plan').click()
    await expect(page.getByTestId('plan-notice')).toHaveText('You stay on the yearly plan.')
    await expect(page.getByTestId('plan-scheduled')).toHaveCount(0)
    await expect(page.getByTestId('switch-plan')).toHaveText('Switch to monthly')
    expect(await subscriptionState(page)).toMatchObject({ interval: 'year', scheduled_change: null })
  })

  test('a free trial: card up front, Premium while trialing, then the trial ends → active and charged', async ({
    page,
    request,
  }, testInfo) => {
    test.skip(!STRIPE_URL, NEEDS_STRIPE)
    const { config, monthly } = await plans(request)
    test.skip(!(config.trial_days > 0), 'the stack has no free trial (BILLING_TRIAL_DAYS=0)')
    await signIn(page, uniqueEmail(testInfo))
    expect((await subscriptionState(page)).trial_eligible).toBe(true)

    await page.goto('/premium')
    await page.getByTestId('trial-option').click()
    await expect(page.getByTestId('trial-terms')).toContainText(
      `then ${money(monthly.unit_amount)}/month; cancel before and pay nothing`,
    )
    await expect(page.getByTestId('purchase-button')).toHaveText(/Start free trial/)
    await fillCard(page, CARDS.ok)
    await page.getByTestId('purchase-button').click()
    await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now. Free trial until')

    const trialing = await subscriptionState(page)
    expect(trialing).toMatchObject({ stripe_status: 'trialing', premium: true, trial_eligible: false })
    expect(trialing.trial_end).toBeTruthy()
    await expect(page.getByTestId('purchase-success')).toContainText(
      `Free trial until ${day(trialing.trial_end)}, then ${money(monthly.unit_amount)}/month; cancel before and pay nothing.`,
    )
    // Nothing charged yet: at most the USD 0 invoice of the trial.
    expect((await invoicesOf(page)).results.every((invoice) => invoice.amount_paid === 0)).toBe(true)
    await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')

    await page.goto('/account')
    await expect(page.getByTestId('subscription-headline')).toHaveText(
      `Free trial until ${day(trialing.trial_end)}`,
    )
    await expect(page.getByTestId('plan-blocked')).toHaveText(
      'You can change plans once the trial has ended.',
    )
    await expect(page.getByTestId('switch-plan')).toBeDisabled()

    // The stand-in's clock ends the trial: the saved card pays the first month.
    const res = await request.post(
      `${STRIPE_URL}/_config/subscriptions/${trialing.subscription_id}/end_trial`,
    )
    expect(res.status(), 'POST <stripe>/_config/subscriptions/<id>/end_trial').toBe(200)
    const active = await waitForStatus(
      page,
      (status) => status.stripe_status === 'active',
      'the subscription is active after the trial',
    )
    expect(active).toMatchObject({ state: 'active', premium: true, trial_end: null })
    const charged = (await invoicesOf(page)).results.find((invoice) => invoice.amount_paid > 0)
    expect(charged).toMatchObject({ status: 'paid', amount_paid: monthly.unit_amount })

    await page.reload()
    await expect(page.getByTestId('plan-current')).toHaveText(
      `Monthly plan: ${money(monthly.unit_amount)}/month`,
    )
    await expect(page.getByTestId('switch-plan')).toBeEnabled()
  })

  test('the promotion code WELCOME50: the discounted first payment shown, then a first invoice of USD 10.00', async ({
    page,
    request,
  }, testInfo) => {
    const { monthly } = await plans(request)
    await signIn(page, uniqueEmail(testInfo))
    await page.goto('/premium')

    // An unknown code first: the server's sentence, announced.
    await page.getByTestId('promotion-code-input').fill('NOSUCHCODE')
    await page.getByTestId('promotion-apply').click()
    await expect(page.getByTestId('promotion-error')).toHaveText('This code does not exist.')
    await expect(page.getByTestId('promotion-code-input')).toHaveAttribute('aria-invalid', 'true')

    const answer = page.waitForResponse((res) => res.url().includes('/api/stripe/promotion-code/'))
    await page.getByTestId('promotion-code-input').fill('welcome50')
    await page.getByTestId('promotion-code-input').press('Enter')
    const checked = await (await answer).json()
    expect(checked).toMatchObject({ percent_off: 50, first_amount: monthly.unit_amount / 2 })
    await expect(page.getByTestId('promotion-applied')).toHaveText(
      `First payment ${money(monthly.unit_amount / 2)} (50% off), then ${money(monthly.unit_amount)}/month`,
    )
    await expect(page.getByTestId('promotion-error')).toHaveCount(0)

    await fillCard(page, CARDS.ok)
    await page.getByTestId('purchase-button').click()
    await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
    const [first] = (await invoicesOf(page)).results
    expect(first).toMatchObject({ status: 'paid', amount_due: 1000, amount_paid: 1000 })
    expect(await subscriptionState(page)).toMatchObject({ state: 'active', premium: true, interval: 'month' })
  })
})
