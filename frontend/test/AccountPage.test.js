import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import {
  accountPayload,
  cardObject,
  CONFIG,
  flush,
  httpError,
  invoiceObject,
  paymentProblem,
  PlainPage,
  statusObject,
} from './helpers'
import { DECLINED, fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { default: AccountPage } = await import('@/pages/AccountPage.vue')

let router

async function mountPage(props = {}) {
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/account', name: 'account', component: { render: () => null } },
      { path: '/:rest(.*)*', component: { render: () => null } },
    ],
  })
  await router.push('/account')
  const pinia = createPinia()
  setActivePinia(pinia)
  const wrapper = mount(AccountPage, {
    props,
    global: { plugins: [pinia, router], stubs: { QPage: PlainPage, ApiTokens: true } },
    attachTo: document.body,
  })
  for (let i = 0; i < 4; i++) await flush()
  return wrapper
}

const settle = async (n = 8) => {
  for (let i = 0; i < n; i++) await flush()
}

const inDialog = (test) => document.body.querySelector(`[data-test="${test}"]`)

beforeEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
  fetchAccount.mockResolvedValue(accountPayload('premium'))
  billingApi.fetchSubscription.mockResolvedValue(statusObject('active'))
  billingApi.fetchStripeConfig.mockResolvedValue({ ...CONFIG, portal: false })
  billingApi.fetchPaymentMethod.mockResolvedValue({ payment_method: cardObject() })
  billingApi.fetchInvoices.mockResolvedValue({ results: [invoiceObject('in_1')], has_more: false })
})

describe('AccountPage', () => {
  it('closes the cancel dialog when the server refuses, so its sentence can be read', async () => {
    const wrapper = await mountPage()
    await wrapper.get('[data-test="cancel-subscription"]').trigger('click')
    await flush()
    expect(inDialog('cancel-dialog-text').textContent).toContain('Premium stays on until 26 Dec 2026')
    billingApi.cancelSubscription.mockRejectedValueOnce(
      httpError(503, { detail: 'Payments are unavailable right now. Please try again.' }),
    )
    inDialog('cancel-confirm').click()
    for (let i = 0; i < 4; i++) await flush()
    expect(billingApi.cancelSubscription).toHaveBeenCalledOnce()
    expect(wrapper.vm.confirmOpen).toBe(false)
    expect(wrapper.get('[data-test="billing-error"]').text()).toBe(
      'Payments are unavailable right now. Please try again.',
    )
    expect(wrapper.get('[data-test="subscription-state"]').attributes('data-state')).toBe('active')
  })

  it('shows "Cancels on …" after a confirmed cancel', async () => {
    const wrapper = await mountPage()
    await wrapper.get('[data-test="cancel-subscription"]').trigger('click')
    await flush()
    billingApi.cancelSubscription.mockResolvedValueOnce(statusObject('cancelling'))
    inDialog('cancel-confirm').click()
    for (let i = 0; i < 4; i++) await flush()
    expect(wrapper.vm.confirmOpen).toBe(false)
    expect(wrapper.get('[data-test="subscription-headline"]').text()).toBe('Cancels on 26 Dec 2026')
    expect(wrapper.find('[data-test="resume-subscription"]').exists()).toBe(true)
  })
})

describe('AccountPage: the card on file', () => {
  it('shows the card renewals charge: brand, last 4, expiry', async () => {
    const wrapper = await mountPage()
    const section = wrapper.get('[data-test="payment-method"]')
    expect(section.attributes('id')).toBe('card')
    expect(section.get('[data-test="pm-brand"]').text()).toBe('Visa')
    expect(section.get('[data-test="pm-last4"]').text()).toBe('•••• 4242')
    expect(section.get('[data-test="pm-expiry"]').text()).toBe('expires 12/30')
    expect(section.find('[data-test="pm-expires-soon"]').exists()).toBe(false)
    expect(section.get('[data-test="change-card"]').text()).toBe('Change card')
  })

  it('marks a card that runs out within 30 days, and one that has', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(new Date('2026-11-20T12:00:00Z'))
      billingApi.fetchPaymentMethod.mockResolvedValue({
        payment_method: cardObject({ exp_month: 11, exp_year: 2026 }),
      })
      let wrapper = await mountPage()
      expect(wrapper.get('[data-test="pm-expires-soon"]').text()).toBe('Expires soon')
      wrapper.unmount()
      billingApi.fetchPaymentMethod.mockResolvedValue({
        payment_method: cardObject({ exp_month: 10, exp_year: 2026 }),
      })
      wrapper = await mountPage()
      expect(wrapper.get('[data-test="pm-expires-soon"]').text()).toBe('Expired')
    } finally {
      vi.useRealTimers()
    }
  })

  it('says "No card on file"; a free user without a subscription is offered no card form', async () => {
    billingApi.fetchPaymentMethod.mockResolvedValue({ payment_method: null })
    fetchAccount.mockResolvedValue(accountPayload('free'))
    billingApi.fetchSubscription.mockResolvedValue(statusObject('none'))
    const wrapper = await mountPage()
    expect(wrapper.get('[data-test="pm-none"]').text()).toBe('No card on file')
    expect(wrapper.find('[data-test="change-card"]').exists()).toBe(false)
  })

  it('says why the card cannot be shown, and tries again', async () => {
    billingApi.fetchPaymentMethod.mockRejectedValueOnce(
      httpError(503, { detail: 'Payments are unavailable.' }),
    )
    const wrapper = await mountPage()
    expect(wrapper.get('[data-test="pm-error"]').text()).toContain('Payments are unavailable.')
    await wrapper.get('[data-test="pm-error"] button').trigger('click')
    await settle()
    expect(wrapper.get('[data-test="pm-last4"]').text()).toBe('•••• 4242')
  })

  it('Change card: the dialog saves a new card, closes, and the page shows it', async () => {
    const fake = fakeStripe()
    billingApi.createSetupIntent.mockResolvedValue({ client_secret: 'seti_9_secret_abc' })
    billingApi.updatePaymentMethod.mockResolvedValue({
      payment_method: cardObject({
        id: 'pm_2',
        brand: 'mastercard',
        last4: '4444',
        exp_month: 1,
        exp_year: 2031,
      }),
    })
    const wrapper = await mountPage({ loadStripe: fake.load })
    expect(fake.load).not.toHaveBeenCalled() // no Stripe.js until a card form opens
    await wrapper.get('[data-test="change-card"]').trigger('click')
    await settle()
    expect(inDialog('change-card-dialog')).not.toBeNull()
    expect(fake.stripe.elements).toHaveBeenCalledWith(expect.objectContaining({ mode: 'setup' }))
    inDialog('change-card-submit').click()
    await settle(12)
    expect(wrapper.vm.changeCardOpen).toBe(false)
    expect(wrapper.get('[data-test="pm-brand"]').text()).toBe('Mastercard')
    expect(wrapper.get('[data-test="pm-last4"]').text()).toBe('•••• 4444')
    expect(wrapper.get('[data-test="card-saved"]').text()).toBe(
      'Your new card is saved. Renewals will be charged to it.',
    )
  })

  it('Change card with a declined card: the sentence in the dialog, the old card still shown', async () => {
    const fake = fakeStripe({ setupResult: DECLINED })
    billingApi.createSetupIntent.mockResolvedValue({ client_secret: 'seti_9_secret_abc' })
    const wrapper = await mountPage({ loadStripe: fake.load })
    await wrapper.get('[data-test="change-card"]').trigger('click')
    await settle()
    inDialog('change-card-submit').click()
    await settle(12)
    expect(wrapper.vm.changeCardOpen).toBe(true)
    expect(inDialog('payment-error').textContent.trim()).toBe('Your card was declined.')
    expect(billingApi.updatePaymentMethod).not.toHaveBeenCalled()
    expect(wrapper.get('[data-test="pm-last4"]').text()).toBe('•••• 4242')
  })
})

describe('AccountPage: invoices', () => {
  it('lists date, period, amount, status and the hosted page and PDF in a new tab', async () => {
    billingApi.fetchInvoices.mockResolvedValue({
      results: [
        invoiceObject('in_2', { status: 'open', amount_paid: 0, created: '2026-12-26T10:00:00Z' }),
        invoiceObject('in_1'),
      ],
      has_more: false,
    })
    const wrapper = await mountPage()
    const rows = wrapper.findAll('[data-test="invoice-row"]')
    expect(rows.map((r) => r.attributes('data-invoice-id'))).toEqual(['in_2', 'in_1'])
    const first = rows[1]
    expect(first.attributes('data-status')).toBe('paid')
    expect(first.get('[data-test="invoice-date"]').text()).toBe('26 Nov 2026')
    expect(first.get('[data-test="invoice-period"]').text()).toBe('26 Nov 2026 – 26 Dec 2026 · NUM-1')
    expect(first.get('[data-test="invoice-amount"]').text()).toBe('$20.00')
    expect(first.get('[data-test="invoice-status"]').text()).toBe('Paid')
    expect(rows[0].get('[data-test="invoice-status"]').text()).toBe('Due')
    for (const [test, url] of [
      ['invoice-view', 'https://pay.example/invoices/in_1'],
      ['invoice-pdf', 'https://pay.example/invoices/in_1.pdf'],
    ]) {
      const link = first.get(`[data-test="${test}"]`)
      expect(link.element.tagName).toBe('A')
      expect(link.attributes('href')).toBe(url)
      expect(link.attributes('target')).toBe('_blank')
      expect(link.attributes('rel')).toBe('noopener')
    }
    expect(wrapper.find('[data-test="invoices-more"]').exists()).toBe(false)
  })

  it('"Load more" asks for the page after the last invoice shown, while Stripe has more', async () => {
    billingApi.fetchInvoices
      .mockResolvedValueOnce({ results: [invoiceObject('in_3'), invoiceObject('in_2')], has_more: true })
      .mockResolvedValueOnce({ results: [invoiceObject('in_1')], has_more: false })
    const wrapper = await mountPage()
    await wrapper.get('[data-test="invoices-more"]').trigger('click')
    await settle()
    expect(billingApi.fetchInvoices).toHaveBeenLastCalledWith({ startingAfter: 'in_2' })
    expect(wrapper.findAll('[data-test="invoice-row"]')).toHaveLength(3)
    expect(wrapper.find('[data-test="invoices-more"]').exists()).toBe(false)
  })

  it('says when there are none', async () => {
    billingApi.fetchInvoices.mockResolvedValue({ results: [], has_more: false })
    const wrapper = await mountPage()
    expect(wrapper.get('[data-test="invoices-empty"]').text()).toContain('No invoices yet.')
  })

  it("shows the server's sentence when the list cannot be read, with Try again", async () => {
    billingApi.fetchInvoices.mockRejectedValueOnce(
      httpError(502, { detail: 'Stripe answered with an error.' }),
    )
    const wrapper = await mountPage()
    const invoices = wrapper.get('[data-test="invoices"]')
    expect(invoices.get('[data-test="data-error"]').text()).toContain('Stripe answered with an error.')
    expect(invoices.find('[data-test="invoices-empty"]').exists()).toBe(false)
    await invoices.get('[data-test="data-retry"]').trigger('click')
    await settle()
    expect(wrapper.findAll('[data-test="invoice-row"]')).toHaveLength(1)
  })
})

describe('AccountPage: an open payment and the portal', () => {
  const pastDue = (kind = 'payment_failed') =>
    statusObject('past_due', { premium: true, payment_problem: paymentProblem(kind) })

  it('offers Pay now only while a payment problem is set', async () => {
    let wrapper = await mountPage()
    expect(wrapper.find('[data-test="pay-now"]').exists()).toBe(false)
    wrapper.unmount()
    billingApi.fetchSubscription.mockResolvedValue(pastDue())
    wrapper = await mountPage()
    expect(wrapper.get('[data-test="open-payment-text"]').text()).toBe(
      '$20.00 for your renewal could not be charged to your card. The card is tried again on 29 Nov 2026.',
    )
    expect(wrapper.find('[data-test="pay-now"]').exists()).toBe(true)
  })

  it('Pay now: paid → synced, the open payment gone, the invoice listed as paid', async () => {
    billingApi.fetchSubscription.mockResolvedValue(pastDue())
    billingApi.fetchInvoices.mockResolvedValue({
      results: [invoiceObject('in_open', { status: 'open', amount_paid: 0 })],
      has_more: false,
    })
    const wrapper = await mountPage()
    billingApi.payInvoice.mockResolvedValueOnce(invoiceObject('in_open'))
    billingApi.syncSubscription.mockResolvedValueOnce(statusObject('active', { payment_problem: null }))
    fetchAccount.mockResolvedValue(
      accountPayload('premium', { subscription: statusObject('active', { payment_problem: null }) }),
    )
    billingApi.fetchInvoices.mockResolvedValue({ results: [invoiceObject('in_open')], has_more: false })
    await wrapper.get('[data-test="pay-now"]').trigger('click')
    await settle(12)
    expect(billingApi.payInvoice).toHaveBeenCalledExactlyOnceWith('in_open')
    expect(wrapper.get('[data-test="pay-now-success"]').text()).toBe(
      'Payment of $20.00 received. Premium is active.',
    )
    expect(wrapper.find('[data-test="pay-now"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="invoice-row"]').attributes('data-status')).toBe('paid')
  })

  it('Pay now needing 3-D Secure: the challenge with the answer’s secret, then sync', async () => {
    const fake = fakeStripe()
    billingApi.fetchSubscription.mockResolvedValue(pastDue('action_required'))
    billingApi.payInvoice.mockResolvedValueOnce(
      invoiceObject('in_open', { status: 'open', client_secret: 'pi_5_secret_z' }),
    )
    billingApi.syncSubscription.mockResolvedValueOnce(statusObject('active', { payment_problem: null }))
    const wrapper = await mountPage({ loadStripe: fake.load })
    expect(wrapper.get('[data-test="open-payment-text"]').text()).toContain('waiting for your confirmation')
    await wrapper.get('[data-test="pay-now"]').trigger('click')
    await settle(12)
    expect(fake.stripe.handleNextAction).toHaveBeenCalledExactlyOnceWith({ clientSecret: 'pi_5_secret_z' })
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
  })

  it('Pay now declined (402): the sentence and a way to change the card', async () => {
    const fake = fakeStripe()
    billingApi.fetchSubscription.mockResolvedValue(pastDue())
    billingApi.payInvoice.mockRejectedValueOnce(
      httpError(402, { detail: 'Your card was declined.', code: 'card_declined' }),
    )
    const wrapper = await mountPage({ loadStripe: fake.load })
    await wrapper.get('[data-test="pay-now"]').trigger('click')
    await settle()
    expect(wrapper.get('[data-test="pay-now-error"]').text()).toContain(
      'Your card was declined. Change your card to pay it with another one.',
    )
    await wrapper.get('[data-test="pay-now-change-card"]').trigger('click')
    await settle()
    expect(wrapper.vm.changeCardOpen).toBe(true)
    expect(inDialog('change-card-form').textContent).toContain('except the open payment of $20.00')
  })

  it('"Manage billing in Stripe" only when the config offers the portal; it leaves for its URL', async () => {
    let wrapper = await mountPage()
    expect(wrapper.find('[data-test="billing-portal"]').exists()).toBe(false)
    wrapper.unmount()
    billingApi.fetchStripeConfig.mockResolvedValue({ ...CONFIG, portal: true })
    billingApi.createPortalSession.mockResolvedValueOnce({ url: 'https://billing.example/p/session_1' })
    const navigate = vi.fn()
    wrapper = await mountPage({ navigate })
    await wrapper.get('[data-test="billing-portal"]').trigger('click')
    await settle()
    expect(billingApi.createPortalSession).toHaveBeenCalledOnce()
    expect(navigate).toHaveBeenCalledExactlyOnceWith('https://billing.example/p/session_1')
  })

  it("the portal refused: the server's sentence", async () => {
    billingApi.fetchStripeConfig.mockResolvedValue({ ...CONFIG, portal: true })
    billingApi.createPortalSession.mockRejectedValueOnce(
      httpError(503, { detail: 'Payments are unavailable right now. Please try again.' }),
    )
    const navigate = vi.fn()
    const wrapper = await mountPage({ navigate })
    await wrapper.get('[data-test="billing-portal"]').trigger('click')
    await settle()
    expect(navigate).not.toHaveBeenCalled()
    expect(wrapper.get('[data-test="billing-error"]').text()).toBe(
      'Payments are unavailable right now. Please try again.',
    )
  })
})
