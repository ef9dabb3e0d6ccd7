// After the purchase: a failed renewal (banner, e-mail, a new card pays it, receipt), a renewal that
// needs 3-D Secure (e-mail link → /account/confirm-payment → the bank's box), a declined new card, Pay
// now, the invoices list with its PDF, the customer portal. The stand-in's clock (renew,
// fail_renewal) moves a subscription on; its webhooks reach the app and Celery like Stripe's; the
// dev mail server's mailbox shows the e-mails. Each test signs in its own new user.
import { expect, test } from '@playwright/test'
import {
  CARDS,
  MAILBOX_URL,
  STRIPE_URL,
  buyPremium,
  cardOf,
  day,
  fillCard,
  invoicesOf,
  stripeClock,
  signIn,
  subscriptionState,
  uniqueEmail,
  waitForMails,
  waitForPaymentProblem,
} from './helpers.mjs'

const NEEDS =
  'needs the Stripe stand-in and the dev mailbox (E2E_STRIPE_URL, E2E_MAILBOX_URL; make e2e sets them)'

/** Sign in a new user, buy Premium with 4242 and open the account page. → {email, subscriptionId} */
async function premiumUser(page, testInfo) {
  const email = uniqueEmail(testInfo)
  await signIn(page, email)
  await buyPremium(page)
  await page.getByTestId('go-account').click()
  await expect(page.getByTestId('account-tier')).toHaveText('Premium')
  const { subscription_id: subscriptionId } = await subscriptionState(page)
  expect(subscriptionId).toMatch(/^sub_/)
  return { email, subscriptionId }
}

/** Account page → Change card → the dialog's Payment Element → Save card. */
async function changeCard(page, number) {
  await page.getByTestId('change-card').click()
  const dialog = page.getByTestId('change-card-dialog')
  await expect(dialog).toBeVisible()
  await fillCard(page, number)
  await dialog.getByTestId('change-card-submit').click()
  return dialog
}

/** The stand-in's 3-D Secure box (real Stripe: the bank's page in an iframe). */
async function completeAuthentication(page) {
  const box = page
    .getByRole('dialog')
    .filter({ has: page.getByRole('button', { name: 'Complete authentication' }) })
  await box.getByRole('button', { name: 'Complete authentication' }).click()
  await expect(box).toBeHidden()
}

test.describe('after the purchase', () => {
  test.describe.configure({ timeout: 120_000 })

  test('a failed renewal: banner and e-mail; a new 4242 card pays it, Premium again, banner gone, receipt', async ({
    page,
    request,
  }, testInfo) => {
    test.skip(!STRIPE_URL || !MAILBOX_URL, NEEDS)
    const { email, subscriptionId } = await premiumUser(page, testInfo)
    await expect(page.getByTestId('payment-problem-banner')).toHaveCount(0)

    await stripeClock(request, subscriptionId, 'fail_renewal')
    const failed = await waitForPaymentProblem(page, 'payment_failed')
    expect(failed).toMatchObject({ state: 'past_due', premium: true })
    const invoiceId = failed.payment_problem.invoice_id
    const open = (await invoicesOf(page)).results.find((i) => i.id === invoiceId)
    expect(open).toMatchObject({ status: 'open', amount_due: 2000 })

    // Every page says so, with the way to the fix.
    await page.goto('/filers')
    const banner = page.getByTestId('payment-problem-banner')
    await expect(banner).toHaveAttribute('data-kind', 'payment_failed')
    await expect(page.getByTestId('payment-problem-text')).toHaveText(
      `Your payment of $20.00 failed on ${day(open.created)} — update your card to keep Premium`,
    )
    const [mail] = await waitForMails(request, email, /^Your payment of \$20\.00 failed/)
    expect(mail.text).toContain('/account')

    await page.getByTestId('payment-problem-action').click()
    await expect(page).toHaveURL(/\/account#card$/)
    await expect(page.getByTestId('payment-method')).toBeInViewport()
    await expect(page.getByTestId('open-payment')).toBeVisible()
    await expect(page.getByTestId(`invoice-row`).filter({ hasText: 'Due' })).toHaveCount(1)

    const dialog = await changeCard(page, CARDS.ok)
    await expect(dialog).toBeHidden()
    await expect(page.getByTestId('card-saved')).toHaveText(
      'Your new card is saved, and the open payment of $20.00 went through. Premium is active.',
    )
    await expect(banner).toHaveCount(0)
    await expect(page.getByTestId('open-payment')).toHaveCount(0)
    await expect(page.getByTestId('tier-badge')).toHaveAttribute('data-tier', 'premium')
    await expect(page.locator(`[data-test="invoice-row"][data-invoice-id="${invoiceId}"]`)).toHaveAttribute(
      'data-status',
      'paid',
    )
    expect(await subscriptionState(page)).toMatchObject({
      state: 'active',
      premium: true,
      payment_problem: null,
    })
    expect((await invoicesOf(page)).results.find((i) => i.id === invoiceId).status).toBe('paid')
    // Two receipts: the purchase's and the renewal's, paid with the new card.
    await waitForMails(request, email, /^Your receipt from .*: \$20\.00$/, { count: 2 })
  })

  test('a renewal that needs 3-D Secure: the e-mail’s link, the bank’s box, active again', async ({
    page,
    request,
  }, testInfo) => {
    test.skip(!STRIPE_URL || !MAILBOX_URL, NEEDS)
    const { email, subscriptionId } = await premiumUser(page, testInfo)

    // A card that asks for 3-D Secure on every payment becomes the one renewals charge (saving it
    // asks too).
    const dialog = await changeCard(page, CARDS.alwaysAuthenticate)
    await completeAuthentication(page)
    await expect(dialog).toBeHidden()
    await expect(page.getByTestId('pm-last4')).toHaveText('•••• 3184')
    expect((await cardOf(page)).last4).toBe('3184')

    await stripeClock(request, subscriptionId, 'renew')
    const waiting = await waitForPaymentProblem(page, 'action_required')
    const invoiceId = waiting.payment_problem.invoice_id
    const [mail] = await waitForMails(request, email, /^Please confirm your payment of \$20\.00/)
    const link = mail.text.match(/https?:\/\/\S+\/account\/confirm-payment\?invoice=in_\w+/)?.[0]
    expect(link, 'the confirmation link in the e-mail').toBeTruthy()
    expect(new URL(link).searchParams.get('invoice')).toBe(invoiceId)

    await page.reload()
    await expect(page.getByTestId('payment-problem-text')).toHaveText(
      'Your renewal of $20.00 needs your confirmation',
    )

    await page.goto(link)
    await expect(page.getByTestId('confirm-amount')).toHaveText('$20.00')
    await expect(page.getByTestId('confirm-period')).not.toBeEmpty()
    await page.getByTestId('confirm-payment-button').click()
    await completeAuthentication(page)
    await expect(page.getByTestId('confirm-success')).toHaveText('Payment confirmed — Premium is active')
    await expect(page.getByTestId('payment-problem-banner')).toHaveCount(0)
    expect(await subscriptionState(page)).toMatchObject({
      state: 'active',
      premium: true,
      payment_problem: null,
    })
    expect((await invoicesOf(page)).results.find((i) => i.id === invoiceId).status).toBe('paid')

    // The link again: nothing left to confirm.
    await page.goto(link)
    await expect(page.getByTestId('confirm-already-paid')).toBeVisible()
    await page.getByTestId('confirm-account-link').click()
    await expect(page).toHaveURL(/\/account$/)
  })

  test('a declined new card: Stripe’s sentence in the dialog, the old card stays the default', async ({
    page,
  }, testInfo) => {
    await premiumUser(page, testInfo)
    await expect(page.getByTestId('pm-last4')).toHaveText('•••• 4242')
    const before = await cardOf(page)

    const dialog = await changeCard(page, CARDS.declined)
    await expect(dialog.getByTestId('payment-error')).toContainText(/declined/i)
    await expect(dialog).toBeVisible()
    await dialog.getByTestId('change-card-cancel').click()
    await expect(dialog).toBeHidden()
    await expect(page.getByTestId('pm-last4')).toHaveText('•••• 4242')
    await expect(page.getByTestId('card-saved')).toHaveCount(0)
    expect(await cardOf(page)).toEqual(before)

    // The same dialog, another card: now it is.
    await changeCard(page, CARDS.ok)
    await expect(page.getByTestId('card-saved')).toHaveText(
      'Your new card is saved. Renewals will be charged to it.',
    )
    const after = await cardOf(page)
    expect(after.id).not.toBe(before.id)
    expect(after.last4).toBe('4242')
  })

  test('Pay now pays a failed renewal with the card on file', async ({ page, request }, testInfo) => {
    test.skip(!STRIPE_URL, NEEDS)
    const { subscriptionId } = await premiumUser(page, testInfo)
    await stripeClock(request, subscriptionId, 'fail_renewal')
    await waitForPaymentProblem(page, 'payment_failed')
    await page.reload()
    await page.getByTestId('pay-now').click()
    await expect(page.getByTestId('pay-now-success')).toHaveText(
      'Payment of $20.00 received. Premium is active.',
    )
    await expect(page.getByTestId('payment-problem-banner')).toHaveCount(0)
    expect(await subscriptionState(page)).toMatchObject({ state: 'active', payment_problem: null })
  })

  test('invoices: the first one and the renewal, newest first; the PDF link gives a PDF', async ({
    page,
    request,
  }, testInfo) => {
    test.skip(!STRIPE_URL, NEEDS)
    const { subscriptionId } = await premiumUser(page, testInfo)
    await stripeClock(request, subscriptionId, 'renew')
    await expect.poll(async () => (await invoicesOf(page)).results.length, { timeout: 30_000 }).toBe(2)
    const [renewal, first] = (await invoicesOf(page)).results

    await page.reload()
    const rows = page.getByTestId('invoice-row')
    await expect(rows).toHaveCount(2)
    await expect(rows.nth(0)).toHaveAttribute('data-invoice-id', renewal.id)
    await expect(rows.nth(1)).toHaveAttribute('data-invoice-id', first.id)
    for (const [row, invoice] of [
      [rows.nth(0), renewal],
      [rows.nth(1), first],
    ]) {
      await expect(row.getByTestId('invoice-date')).toHaveText(day(invoice.created))
      await expect(row.getByTestId('invoice-amount')).toHaveText('$20.00')
      await expect(row.getByTestId('invoice-status')).toHaveText('Paid')
    }
    await expect(rows.nth(0).getByTestId('invoice-period')).toContainText(
      `${day(renewal.period_start)} – ${day(renewal.period_end)}`,
    )
    await expect(page.getByTestId('invoices-more')).toHaveCount(0)

    // The PDF: a link to a new tab; what it points at is a PDF.
    const pdf = rows.nth(0).getByTestId('invoice-pdf')
    await expect(pdf).toHaveAttribute('target', '_blank')
    await expect(pdf).toHaveAttribute('rel', 'noopener')
    const href = await pdf.getAttribute('href')
    expect(href).toBe(renewal.invoice_pdf)
    const res = await page.request.get(href)
    expect(res.status(), `GET ${href}`).toBe(200)
    expect(res.headers()['content-type']).toContain('application/pdf')
    expect((await res.body()).subarray(0, 5).toString('latin1')).toBe('%PDF-')

    // The hosted invoice page opens in a new tab.
    const [tab] = await Promise.all([
      page.waitForEvent('popup'),
      rows.nth(0).getByTestId('invoice-view').click(),
    ])
    await tab.waitForLoadState()
    expect(tab.url()).toBe(renewal.hosted_invoice_url)
    await expect(tab.locator('body')).toContainText(renewal.number)
    await tab.close()
  })

  test('"Manage billing in Stripe" opens the customer portal, which leads back to the account', async ({
    page,
  }, testInfo) => {
    await premiumUser(page, testInfo)
    const config = await (await page.request.get('/api/stripe/config/')).json()
    test.skip(config.portal !== true, 'the portal is off in this stack (BILLING_PORTAL_ENABLED)')
    await page.getByTestId('billing-portal').click()
    await expect(page).not.toHaveURL(/\/account$/)
    await page.getByRole('link', { name: /return/i }).click()
    await expect(page).toHaveURL(/\/account$/)
    await expect(page.getByTestId('account-tier')).toHaveText('Premium')
  })
})
