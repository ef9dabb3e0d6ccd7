// The pictures in docs/screenshots/ (README): the purchase page and the account page, on a desktop
// and on a phone-sized screen (390 x 844), and the account page after the purchase (card, invoices,
// the failed-payment banner; desktop), and the preview of a plan switch (desktop). Overwritten on every run.
import { expect, test } from '@playwright/test'
import {
  CARDS,
  STRIPE_URL,
  fillCard,
  screenshotPath,
  signIn,
  stripeClock,
  subscriptionState,
  waitForPaymentProblem,
} from './helpers.mjs'

const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

async function shoot(page, name, { fullPage = true } = {}) {
  // No focus ring, fonts loaded, animations stopped: the same picture every run.
  await page.evaluate(async () => {
    document.activeElement?.blur()
    await document.fonts.ready
  })
  await page.screenshot({ path: screenshotPath(name), fullPage, animations: 'disabled', caret: 'hide' })
}

test('screenshots of the purchase and account pages (desktop and phone)', async ({ page }) => {
  await page.setViewportSize(DESKTOP)
  // A readable, still unique address: the pictures go into the README.
  await signIn(page, `dana.demo+${Date.now().toString(36)}@example.com`, { name: 'Dana Demo' })

  await page.goto('/premium')
  await fillCard(page, CARDS.ok)
  await expect(page.getByTestId('purchase-button')).toBeEnabled()
  await shoot(page, 'purchase-desktop')
  await page.setViewportSize(PHONE)
  await expect(page.getByTestId('menu-button')).toBeVisible()
  await shoot(page, 'purchase-phone')

  await page.setViewportSize(DESKTOP)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toBeVisible()
  await page.getByTestId('go-account').click()
  await expect(page.getByTestId('account-tier')).toHaveText('Premium')
  await expect(page.getByTestId('usage-meter')).toBeVisible()
  await shoot(page, 'account-desktop')
  await page.setViewportSize(PHONE)
  await expect(page.getByTestId('menu-button')).toBeVisible()
  await shoot(page, 'account-phone')
})

test('screenshot of the account page with a card, invoices and a failed renewal (desktop)', async ({
  page,
  request,
}) => {
  test.skip(!STRIPE_URL, 'needs the Stripe stand-in (E2E_STRIPE_URL; make screenshots sets it)')
  test.setTimeout(120_000)
  await page.setViewportSize(DESKTOP)
  await signIn(page, `dana.demo+${Date.now().toString(36)}@example.com`, { name: 'Dana Demo' })
  await page.goto('/premium')
  await fillCard(page, CARDS.ok)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toBeVisible()

  // A month paid, then the next renewal declined: three invoices, the last one open.
  const { subscription_id: subscriptionId } = await subscriptionState(page)
  await stripeClock(request, subscriptionId, 'renew')
  await stripeClock(request, subscriptionId, 'fail_renewal')
  await waitForPaymentProblem(page, 'payment_failed')

  await page.goto('/account')
  await expect(page.getByTestId('payment-problem-text')).toContainText(' failed on ')
  await expect(page.getByTestId('pm-last4')).toBeVisible()
  await expect(page.getByTestId('invoice-row')).toHaveCount(3)
  await shoot(page, 'account-billing-desktop')
})

test('screenshot of a plan switch: the preview of monthly → yearly (desktop)', async ({ page }) => {
  test.setTimeout(120_000)
  await page.setViewportSize(DESKTOP)
  await signIn(page, `dana.demo+${Date.now().toString(36)}@example.com`, { name: 'Dana Demo' })
  await page.goto('/premium')
  await fillCard(page, CARDS.ok)
  await page.getByTestId('purchase-button').click()
  await expect(page.getByTestId('purchase-success')).toBeVisible()
  await page.goto('/account')
  await page.getByTestId('switch-plan').click()
  await expect(page.getByTestId('plan-preview-amount')).toBeVisible()
  await expect(page.getByTestId('plan-confirm')).toBeEnabled()
  // The viewport only: a modal dialog's backdrop covers the screen, not the whole page.
  await shoot(page, 'account-plan-change-desktop', { fullPage: false })
})
