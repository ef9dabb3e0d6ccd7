// /account/confirm-payment?invoice=in_... (the "action required" e-mail's link) and the flow under it,
// usePayInvoice(): pay → 3-D Secure (handleNextAction) → sync. Fake Stripe, billing API module mocked.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import {
  accountPayload,
  CONFIG,
  flush,
  httpError,
  invoiceObject,
  paymentProblem,
  PlainPage,
  statusObject,
} from './helpers'
import { fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: ConfirmPaymentPage } = await import('@/pages/ConfirmPaymentPage.vue')
const { NOT_THROUGH } = await import('@/composables/usePayInvoice')

const OPEN = invoiceObject('in_open', {
  status: 'open',
  amount_paid: 0,
  period_start: '2026-12-26T10:00:00Z',
  period_end: '2027-01-26T10:00:00Z',
})
const NEEDS_ACTION = { ...OPEN, client_secret: 'pi_8_secret_y' }
const PAID = { ...OPEN, status: 'paid', amount_paid: 2000 }
const ACTIVE = statusObject('active', { payment_problem: null })

let router
let wrapper

async function mountPage(fake, query = '?invoice=in_open') {
  const page = { render: () => null }
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/account', name: 'account', component: page },
      { path: '/account/confirm-payment', name: 'confirm-payment', component: page },
      { path: '/login', name: 'login', component: page },
    ],
  })
  await router.push(`/account/confirm-payment${query}`)
  wrapper = mount(ConfirmPaymentPage, {
    props: { loadStripe: fake.load },
    global: { plugins: [createPinia(), router], stubs: { QPage: PlainPage } },
    attachTo: document.body,
  })
  setActivePinia(wrapper.vm.$pinia)
  for (let i = 0; i < 4; i++) await flush()
  await useAccountStore().refresh()
  return wrapper
}

const confirm = async () => {
  await wrapper.get('[data-test="confirm-payment-button"]').trigger('click')
  for (let i = 0; i < 8; i++) await flush()
}
const test = (id) => wrapper.find(`[data-test="${id}"]`)

beforeEach(() => {
  vi.clearAllMocks()
  billingApi.fetchStripeConfig.mockResolvedValue(CONFIG)
  billingApi.fetchInvoices.mockResolvedValue({ results: [OPEN, invoiceObject('in_first')], has_more: false })
  billingApi.syncSubscription.mockResolvedValue(ACTIVE)
  fetchAccount.mockResolvedValue(
    accountPayload('premium', {
      subscription: statusObject('past_due', {
        premium: true,
        payment_problem: paymentProblem('action_required'),
      }),
    }),
  )
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  document.body.innerHTML = ''
})

describe('ConfirmPaymentPage.vue + usePayInvoice', () => {
  it('shows the amount and period of the invoice found in the list, and loads no Stripe.js yet', async () => {
    const fake = fakeStripe()
    await mountPage(fake)
    expect(test('confirm-amount').text()).toBe('$20.00')
    expect(test('confirm-period').text()).toBe('26 Dec 2026 – 26 Jan 2027')
    expect(test('confirm-payment-button').exists()).toBe(true)
    expect(test('confirm-explanation').text()).toMatch(/^Your bank asks you to confirm this payment\./)
    expect(fake.load).not.toHaveBeenCalled()
  })

  it('says so when the invoice is a renewal whose charge failed (not one waiting for the bank)', async () => {
    fetchAccount.mockResolvedValue(
      accountPayload('premium', {
        subscription: statusObject('past_due', {
          premium: true,
          payment_problem: paymentProblem('payment_failed'),
        }),
      }),
    )
    await mountPage(fakeStripe())
    expect(test('confirm-explanation').text()).toMatch(/^The charge for this renewal failed\./)
  })

  it('finds an invoice on a later page', async () => {
    billingApi.fetchInvoices
      .mockResolvedValueOnce({ results: [invoiceObject('in_9'), invoiceObject('in_8')], has_more: true })
      .mockResolvedValueOnce({ results: [OPEN], has_more: false })
    await mountPage(fakeStripe())
    expect(billingApi.fetchInvoices.mock.calls).toEqual([[{}], [{ startingAfter: 'in_8' }]])
    expect(test('confirm-amount').text()).toBe('$20.00')
  })

  it('confirms: pay → handleNextAction with the secret → sync → "Payment confirmed — Premium is active"', async () => {
    const fake = fakeStripe()
    billingApi.payInvoice.mockResolvedValueOnce(NEEDS_ACTION)
    await mountPage(fake)
    billingApi.fetchInvoices.mockResolvedValue({ results: [PAID], has_more: false })
    fetchAccount.mockResolvedValue(accountPayload('premium', { subscription: ACTIVE }))
    await confirm()
    expect(billingApi.payInvoice).toHaveBeenCalledExactlyOnceWith('in_open')
    expect(fake.load).toHaveBeenCalledWith(CONFIG)
    expect(fake.stripe.handleNextAction).toHaveBeenCalledExactlyOnceWith({ clientSecret: 'pi_8_secret_y' })
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(fake.stripe.handleNextAction.mock.invocationCallOrder[0]).toBeLessThan(
      billingApi.syncSubscription.mock.invocationCallOrder[0],
    )
    expect(test('confirm-success').text()).toBe('Payment confirmed — Premium is active')
    expect(test('confirm-payment-button').exists()).toBe(false)
    expect(useAccountStore().subscription.payment_problem).toBeNull()
    expect(test('confirm-account-link').attributes('href')).toBe('/account')
  })

  it('a failed challenge: the sentence, the button stays, and the status is read back', async () => {
    const fake = fakeStripe({
      nextActionResult: {
        error: { type: 'card_error', message: 'We are unable to authenticate your payment method.' },
      },
    })
    billingApi.payInvoice.mockResolvedValueOnce(NEEDS_ACTION)
    billingApi.syncSubscription.mockResolvedValueOnce(
      statusObject('past_due', { payment_problem: paymentProblem('action_required') }),
    )
    await mountPage(fake)
    await confirm()
    expect(test('confirm-error').text()).toBe('We are unable to authenticate your payment method.')
    expect(test('confirm-success').exists()).toBe(false)
    expect(test('confirm-payment-button').attributes('disabled')).toBeUndefined()
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
  })

  it('paid at once without a challenge: no Stripe.js at all', async () => {
    const fake = fakeStripe()
    billingApi.payInvoice.mockResolvedValueOnce(PAID)
    await mountPage(fake)
    await confirm()
    expect(fake.load).not.toHaveBeenCalled()
    expect(test('confirm-success').exists()).toBe(true)
  })

  it('an intent still needing something after the challenge is not called a success', async () => {
    const fake = fakeStripe({
      nextActionResult: { paymentIntent: { id: 'pi_8', status: 'requires_payment_method' } },
    })
    billingApi.payInvoice.mockResolvedValueOnce(NEEDS_ACTION)
    await mountPage(fake)
    await confirm()
    expect(test('confirm-error').text()).toBe(NOT_THROUGH)
    expect(test('confirm-success').exists()).toBe(false)
  })

  it('declined (402): the sentence and the way to change the card', async () => {
    billingApi.payInvoice.mockRejectedValueOnce(
      httpError(402, { detail: 'Your card has insufficient funds.', code: 'card_declined' }),
    )
    await mountPage(fakeStripe())
    await confirm()
    expect(test('confirm-error').text()).toContain('Your card has insufficient funds.')
    expect(test('confirm-change-card').attributes('href')).toBe('/account#card')
  })

  it('paid meanwhile (409): shows it as paid', async () => {
    billingApi.payInvoice.mockRejectedValueOnce(httpError(409, { detail: 'This invoice is not open.' }))
    billingApi.fetchSubscription.mockResolvedValueOnce(ACTIVE)
    await mountPage(fakeStripe())
    billingApi.fetchInvoices.mockResolvedValue({ results: [PAID], has_more: false })
    await confirm()
    expect(test('confirm-already-paid').text()).toContain('already paid')
    expect(test('confirm-payment-button').exists()).toBe(false)
    expect(useAccountStore().subscription.payment_problem).toBeNull()
  })

  it('an invoice already paid says so and offers nothing to click', async () => {
    billingApi.fetchInvoices.mockResolvedValue({ results: [PAID], has_more: false })
    await mountPage(fakeStripe())
    expect(test('confirm-already-paid').text()).toBe(
      'This invoice is already paid: there is nothing to confirm.',
    )
    expect(test('confirm-payment-button').exists()).toBe(false)
  })

  it('an invoice that is not the caller’s (or unknown): a clear sentence', async () => {
    billingApi.fetchInvoices.mockResolvedValue({ results: [invoiceObject('in_other')], has_more: false })
    await mountPage(fakeStripe(), '?invoice=in_someone')
    expect(test('confirm-not-found').text()).toContain('This invoice was not found in your account.')
    expect(test('confirm-invoice').exists()).toBe(false)
  })

  it('a link without an invoice id (or a malformed one) asks the server nothing', async () => {
    for (const query of ['', '?invoice=', '?invoice=../../x', '?invoice=in_1&invoice=in_2']) {
      await mountPage(fakeStripe(), query)
      expect(test('confirm-not-found').text()).toContain('This link does not name an invoice.')
      wrapper.unmount()
    }
    wrapper = null
    expect(billingApi.fetchInvoices).not.toHaveBeenCalled()
  })

  it('the list cannot be read: the server’s sentence with Try again', async () => {
    billingApi.fetchInvoices.mockRejectedValueOnce(httpError(503, { detail: 'Payments are unavailable.' }))
    await mountPage(fakeStripe())
    expect(test('data-error').text()).toContain('Payments are unavailable.')
    billingApi.fetchInvoices.mockResolvedValue({ results: [OPEN], has_more: false })
    await test('data-retry').trigger('click')
    for (let i = 0; i < 4; i++) await flush()
    expect(test('confirm-amount').text()).toBe('$20.00')
  })
})
