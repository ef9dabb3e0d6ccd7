// Accessibility basics of the sign-in, purchase and account pages (and, after the purchase, the card,
// invoices, the change-card dialog, the payment banner and the confirmation page): every field and
// button has an accessible name, the purchase works with the keyboard alone, and axe-core finds no serious or
// critical naming/labelling problem (its other findings are reported, not failed).
import AxeBuilder from '@axe-core/playwright'
import { expect, test } from '@playwright/test'
import {
  CARDS,
  STRIPE_URL,
  buyPremium,
  expiry,
  signIn,
  stripeConfig,
  stripeClock,
  subscriptionState,
  uniqueEmail,
  waitForPaymentProblem,
} from './helpers.mjs'

// axe rules about labels and accessible names: serious/critical violations of these fail the test.
const NAME_RULES = new Set([
  'label',
  'label-title-only',
  'button-name',
  'input-button-name',
  'select-name',
  'link-name',
  'aria-input-field-name',
  'aria-command-name',
  'aria-toggle-field-name',
  'aria-dialog-name',
  'aria-progressbar-name',
  'aria-meter-name',
  'aria-tooltip-name',
  'image-alt',
  'svg-img-alt',
  'frame-title',
  'document-title',
])
const FAILING_IMPACTS = new Set(['serious', 'critical'])

const FIELDS =
  'input:not([type="hidden"]), select, textarea, [role="textbox"], [role="combobox"], [role="checkbox"], [role="radio"]'
const BUTTONS = 'button, [role="button"], input[type="submit"]'

/** Every visible field and button has a non-empty accessible name; returns how many were checked. */
async function expectNamed(page, where) {
  const checked = { fields: 0, buttons: 0 }
  for (const [kind, selector] of [
    ['fields', FIELDS],
    ['buttons', BUTTONS],
  ]) {
    const all = page.locator(selector)
    const count = await all.count()
    for (let i = 0; i < count; i++) {
      const element = all.nth(i)
      if (!(await element.isVisible())) continue
      const html = await element.evaluate((e) => e.outerHTML.slice(0, 160))
      await expect(element, `${where}: no accessible name: ${html}`).toHaveAccessibleName(/\S/, {
        timeout: 2_000,
      })
      checked[kind]++
    }
  }
  return checked
}

async function axe(page, where, testInfo) {
  const { violations, passes } = await new AxeBuilder({ page }).analyze()
  expect(passes.length, `axe checked something on ${where}`).toBeGreaterThan(0)
  const failing = violations.filter((v) => NAME_RULES.has(v.id) && FAILING_IMPACTS.has(v.impact))
  const others = violations.filter((v) => !failing.includes(v))
  const line = (v) => `${v.id} (${v.impact}, ${v.nodes.length}x): ${v.help}`
  for (const v of others) {
    testInfo.annotations.push({ type: 'axe', description: `${where}: ${line(v)}` })
  }
  await testInfo.attach(`axe-${where}.json`, {
    body: JSON.stringify(violations, null, 2),
    contentType: 'application/json',
  })
  if (others.length) console.log(`axe on ${where}, reported only:\n  ${others.map(line).join('\n  ')}`)
  expect(
    failing.map((v) => `${line(v)}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    `axe on ${where}: serious/critical label and name violations`,
  ).toEqual([])
}

test('sign-in, purchase and account pages: named fields and buttons, axe-core', async ({
  page,
  request,
}, testInfo) => {
  const config = await stripeConfig(request)
  await page.goto('/login')
  await expect(page.getByTestId('linkedin-sign-in')).toBeEnabled()
  await expect(page.getByRole('button', { name: 'Sign in with LinkedIn' })).toBeVisible()
  expect((await expectNamed(page, 'sign-in')).buttons).toBeGreaterThan(0)
  await axe(page, 'sign-in', testInfo)

  await signIn(page, uniqueEmail(testInfo))

  await page.goto('/premium')
  await expect(page.getByTestId('card-number')).toBeVisible()
  await expect(page.getByTestId('purchase-button')).toBeEnabled()
  // The Payment Element's fields are found by their names, as a screen reader user would.
  await expect(page.getByRole('textbox', { name: 'Card number' })).toBeVisible()
  await expect(page.getByRole('textbox', { name: 'Expiration date' })).toBeVisible()
  await expect(page.getByRole('textbox', { name: 'Security code' })).toBeVisible()
  await expect(page.getByRole('combobox', { name: 'Country' })).toBeVisible()
  await expect(page.getByRole('textbox', { name: 'ZIP code' })).toBeVisible()
  await expect(page.getByTestId('payment-element')).toHaveAccessibleName('Card details')
  // The plan (a radio group named "Plan"), the free trial of a new user, the promotion code.
  const plans = config.prices?.length > 1 ? config.prices.length : 0
  const trial = config.trial_days > 0 ? 1 : 0
  if (plans) {
    await expect(page.getByRole('radiogroup', { name: 'Plan' })).toBeVisible()
    await expect(page.getByRole('radio', { name: /^Monthly: / })).toBeChecked()
    await expect(page.getByRole('radio', { name: /^Yearly: / })).not.toBeChecked()
  }
  if (trial) {
    await expect(
      page.getByRole('checkbox', { name: `Start your ${config.trial_days}-day free trial` }),
    ).toHaveAccessibleDescription(/cancel before and pay nothing/)
  }
  await expect(page.getByRole('textbox', { name: 'Promotion code' })).toBeVisible()
  expect(await expectNamed(page, 'purchase')).toMatchObject({ fields: 5 + plans + trial + 1 })
  await axe(page, 'purchase', testInfo)

  // With its validation messages showing (Purchase on an empty form): still named, and described.
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('payment-error')).toBeVisible()
  await expect(page.getByRole('textbox', { name: 'Security code' })).toHaveAccessibleDescription(
    "Your card's security code is incomplete.",
  )
  await axe(page, 'purchase-errors', testInfo)

  await page.goto('/account')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-access')).toBeVisible()
  await expect(page.getByRole('textbox', { name: 'Access token' })).toBeVisible()
  await expect(page.getByRole('textbox', { name: 'Refresh token to revoke' })).toBeVisible()
  const account = await expectNamed(page, 'account')
  expect(account.fields, 'access, refresh and revoke fields').toBeGreaterThanOrEqual(3)
  expect(account.buttons).toBeGreaterThan(0)
  await axe(page, 'account', testInfo)
})

test('after the purchase: card, invoices, change-card dialog, banner and confirmation page are named; axe-core', async ({
  page,
  request,
}, testInfo) => {
  test.skip(!STRIPE_URL, 'needs the Stripe stand-in URL (E2E_STRIPE_URL; make e2e sets it)')
  await signIn(page, uniqueEmail(testInfo))
  await buyPremium(page)
  const { subscription_id: subscriptionId } = await subscriptionState(page)
  await stripeClock(request, subscriptionId, 'fail_renewal')
  const { payment_problem: problem } = await waitForPaymentProblem(page, 'payment_failed')

  await page.goto('/account')
  await expect(page.getByTestId('payment-problem-banner')).toBeVisible()
  await expect(page.getByTestId('invoice-row')).toHaveCount(2)
  await expect(page.getByRole('link', { name: /as PDF$/ }).first()).toBeVisible()
  expect((await expectNamed(page, 'account-billing')).buttons).toBeGreaterThan(0)
  await axe(page, 'account-billing', testInfo)

  await page.getByTestId('change-card').click()
  await expect(page.getByRole('dialog', { name: 'Change card' })).toBeVisible()
  await expect(page.getByTestId('payment-element')).toHaveAccessibleName('New card')
  await expect(page.getByRole('textbox', { name: 'Card number' })).toBeVisible()
  // The five of the Payment Element, and the page's own under the dialog.
  expect((await expectNamed(page, 'change-card')).fields).toBeGreaterThanOrEqual(5)
  await axe(page, 'change-card', testInfo)
  await page.getByTestId('change-card-cancel').click()

  await page.goto(`/account/confirm-payment?invoice=${problem.invoice_id}`)
  await expect(page.getByRole('button', { name: 'Confirm payment' })).toBeVisible()
  await expectNamed(page, 'confirm-payment')
  await axe(page, 'confirm-payment', testInfo)
})

test('a plan switch: the plan card and the preview dialog are named, axe-core, and work from the keyboard', async ({
  page,
}, testInfo) => {
  await signIn(page, uniqueEmail(testInfo))
  await buyPremium(page)
  await page.goto('/account')
  const switchButton = page.getByRole('button', { name: 'Switch to yearly' })
  await expect(switchButton).toBeEnabled()
  await switchButton.focus()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Switch to yearly?' })
  await expect(dialog).toBeVisible()
  await expect(dialog.getByRole('table', { name: 'The invoice charged now' })).toBeVisible()
  expect((await expectNamed(page, 'plan-preview')).buttons).toBeGreaterThan(0)
  await axe(page, 'plan-preview', testInfo)
  const confirm = dialog.getByRole('button', { name: /^Pay USD [\d.]+ and switch$/ })
  await confirm.focus()
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('plan-notice')).toContainText('You are on the yearly plan now.')
  await expect(dialog).toBeHidden()
})

test('keyboard only: Tab through the card field to Purchase and press Enter', async ({ page }, testInfo) => {
  await signIn(page, uniqueEmail(testInfo))
  await page.goto('/premium')
  await expect(page.getByTestId('purchase-button')).toBeEnabled()

  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-test') ?? '')
  async function tabTo(testId, max) {
    for (let i = 0; i < max && (await focused()) !== testId; i++) await page.keyboard.press('Tab')
    expect(await focused(), `Tab reaches ${testId}`).toBe(testId)
  }

  await page.locator('body').focus()
  await tabTo('card-number', 40)
  await page.keyboard.type(CARDS.ok)
  for (const [testId, value] of [
    ['card-expiry', expiry().replace(/\D/g, '')],
    ['card-cvc', '123'],
    ['card-postal-code', '10001'],
  ]) {
    // The element may move the focus on by itself once a part is complete; else Tab (past Country,
    // which keeps its default).
    await tabTo(testId, 2)
    await page.keyboard.type(value)
  }
  await expect(page.getByTestId('card-number')).toHaveValue(/^4242 ?4242 ?4242 ?4242$/)
  await expect(page.getByTestId('card-expiry')).toHaveValue(expiry())
  await expect(page.getByTestId('card-cvc')).toHaveValue('123')
  await tabTo('purchase-button', 5)
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('purchase-success')).toContainText('You are Premium now')
  await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
})
