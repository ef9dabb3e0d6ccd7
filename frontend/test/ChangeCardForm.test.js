// Changing the card: ChangeCardForm.vue + useChangeCard() with a fake Stripe (setup mode,
// confirmSetup, handleNextAction) and the billing API module mocked.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  accountPayload,
  cardObject,
  CONFIG,
  flush,
  httpError,
  invoiceObject,
  paymentProblem,
  statusObject,
} from './helpers'
import { DECLINED, INCOMPLETE_NUMBER, fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { useBillingStore } = await import('@/stores/billing')
const { default: ChangeCardForm } = await import('@/components/ChangeCardForm.vue')
const { INVOICE_STILL_OPEN } = await import('@/composables/useChangeCard')

const STAND_IN = resolve(import.meta.dirname, '../../tools/fakestripe/fakestripe/js/stripe-v3.js')
const SETI = { client_secret: 'seti_9_secret_abc' }
const OLD = cardObject()
const NEW = cardObject({ id: 'pm_new', brand: 'mastercard', last4: '4444', exp_month: 3, exp_year: 2031 })
const PAST_DUE = statusObject('past_due', { premium: true, payment_problem: paymentProblem() })

let router
let pinia
let wrapper

async function mountForm(fake, props = {}) {
  const page = { render: () => null }
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/account', name: 'account', component: page },
      { path: '/login', name: 'login', component: page },
    ],
  })
  await router.push('/account')
  wrapper = mount(ChangeCardForm, {
    props: { loadStripe: fake.load, ...props },
    global: { plugins: [pinia, router] },
    attachTo: document.body,
  })
  for (let i = 0; i < 4; i++) await flush()
  return wrapper
}

const save = async () => {
  await wrapper.get('[data-test="change-card-submit"]').trigger('click')
  for (let i = 0; i < 6; i++) await flush()
}

beforeEach(async () => {
  vi.clearAllMocks()
  pinia = createPinia()
  setActivePinia(pinia)
  billingApi.fetchStripeConfig.mockResolvedValue(CONFIG)
  billingApi.fetchPaymentMethod.mockResolvedValue({ payment_method: OLD })
  billingApi.createSetupIntent.mockResolvedValue(SETI)
  billingApi.updatePaymentMethod.mockResolvedValue({ payment_method: NEW })
  fetchAccount.mockResolvedValue(accountPayload('premium'))
  await useAccountStore().refresh()
  await useBillingStore().loadPaymentMethod()
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  document.body.innerHTML = ''
})

describe('ChangeCardForm.vue + useChangeCard', () => {
  it('mounts the Payment Element in setup mode (cards only): nothing is charged to save a card', async () => {
    const fake = fakeStripe()
    await mountForm(fake)
    expect(fake.stripe.elements).toHaveBeenCalledWith(
      expect.objectContaining({ mode: 'setup', currency: 'usd', paymentMethodTypes: ['card'] }),
    )
    expect(fake.stripe.elements.mock.calls[0][0]).not.toHaveProperty('amount')
    const host = wrapper.get('[data-test="payment-element"]')
    expect(wrapper.get(`#${host.attributes('aria-labelledby')}`).text()).toBe('New card')
    expect(wrapper.text()).toContain('Nothing is charged now.')
  })

  it('saves: submit → setup-intent → confirmSetup → POST payment-method with its payment method', async () => {
    const fake = fakeStripe()
    await mountForm(fake)
    await save()
    expect(fake.elements.submit).toHaveBeenCalledOnce()
    expect(billingApi.createSetupIntent).toHaveBeenCalledOnce()
    expect(fake.stripe.confirmSetup).toHaveBeenCalledExactlyOnceWith({
      elements: fake.elements,
      clientSecret: SETI.client_secret,
      confirmParams: { return_url: `${window.location.origin}/account` },
      redirect: 'if_required',
    })
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
    expect(billingApi.updatePaymentMethod).toHaveBeenCalledExactlyOnceWith('pm_1')
    expect(fake.elements.submit.mock.invocationCallOrder[0]).toBeLessThan(
      billingApi.createSetupIntent.mock.invocationCallOrder[0],
    )
    expect(useBillingStore().paymentMethod).toEqual(NEW)
    expect(billingApi.syncSubscription).not.toHaveBeenCalled() // nothing was open: nothing to sync
    expect(wrapper.emitted('saved')).toEqual([[{ paymentMethod: NEW, invoice: null, status: null }]])
  })

  it("a declined card: Stripe's sentence in the form, the old card stays, nothing sent to the server", async () => {
    const fake = fakeStripe({ setupResult: DECLINED })
    await mountForm(fake)
    await save()
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Your card was declined.')
    expect(billingApi.updatePaymentMethod).not.toHaveBeenCalled()
    expect(useBillingStore().paymentMethod).toEqual(OLD)
    expect(wrapper.emitted('saved')).toBeUndefined()
    expect(wrapper.get('[data-test="change-card-submit"]').attributes('disabled')).toBeUndefined()

    // Another card on the same form.
    fake.stripe.confirmSetup.mockResolvedValueOnce({
      setupIntent: { id: 'seti_9', status: 'succeeded', payment_method: { id: 'pm_new' } },
    })
    await save()
    expect(billingApi.updatePaymentMethod).toHaveBeenCalledExactlyOnceWith('pm_new')
    expect(wrapper.find('[data-test="payment-error"]').exists()).toBe(false)
    expect(wrapper.emitted('saved')).toHaveLength(1)
  })

  it('an incomplete form asks for no SetupIntent', async () => {
    const fake = fakeStripe({ submitResult: INCOMPLETE_NUMBER })
    await mountForm(fake)
    await save()
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Your card number is incomplete.')
    expect(billingApi.createSetupIntent).not.toHaveBeenCalled()
  })

  it("the server refuses the card (402): its sentence, and the server's card is shown again", async () => {
    const fake = fakeStripe()
    billingApi.updatePaymentMethod.mockRejectedValueOnce(
      httpError(402, { detail: 'Your card does not support this type of purchase.', code: 'card_declined' }),
    )
    await mountForm(fake)
    await save()
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe(
      'Your card does not support this type of purchase.',
    )
    expect(billingApi.fetchPaymentMethod).toHaveBeenCalledTimes(2)
    expect(useBillingStore().paymentMethod).toEqual(OLD)
    expect(wrapper.emitted('saved')).toBeUndefined()
  })

  it('an open invoice paid with the new card: the status is synced (premium again)', async () => {
    const fake = fakeStripe()
    useAccountStore().setSubscription(PAST_DUE)
    const paid = invoiceObject('in_open')
    billingApi.updatePaymentMethod.mockResolvedValueOnce({ payment_method: NEW, invoice: paid })
    const active = statusObject('active', { payment_problem: null })
    billingApi.syncSubscription.mockResolvedValueOnce(active)
    fetchAccount.mockResolvedValue(accountPayload('premium', { subscription: active }))
    await mountForm(fake, { problem: PAST_DUE.payment_problem })
    expect(wrapper.text()).toContain('except the open payment of $20.00, which it pays at once')
    await save()
    expect(fake.stripe.handleNextAction).not.toHaveBeenCalled()
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(useAccountStore().subscription.payment_problem).toBeNull()
    expect(wrapper.emitted('saved')[0][0]).toMatchObject({ invoice: paid, status: { state: 'active' } })
  })

  it("an open invoice that needs 3-D Secure: handleNextAction with the invoice's secret, then sync", async () => {
    const fake = fakeStripe()
    const open = invoiceObject('in_open', { status: 'open', client_secret: 'pi_7_secret_x' })
    billingApi.updatePaymentMethod.mockResolvedValueOnce({ payment_method: NEW, invoice: open })
    billingApi.syncSubscription.mockResolvedValueOnce(statusObject('active'))
    await mountForm(fake)
    await save()
    expect(fake.stripe.handleNextAction).toHaveBeenCalledExactlyOnceWith({ clientSecret: 'pi_7_secret_x' })
    expect(fake.stripe.handleNextAction.mock.invocationCallOrder[0]).toBeLessThan(
      billingApi.syncSubscription.mock.invocationCallOrder[0],
    )
    expect(wrapper.emitted('saved')).toHaveLength(1)
  })

  it('the new card is saved but its 3-D Secure for the open invoice fails: said, and the form stays', async () => {
    const fake = fakeStripe({
      nextActionResult: {
        error: { type: 'card_error', message: 'We are unable to authenticate your payment method.' },
      },
    })
    const open = invoiceObject('in_open', { status: 'open', client_secret: 'pi_7_secret_x' })
    billingApi.updatePaymentMethod.mockResolvedValueOnce({ payment_method: NEW, invoice: open })
    billingApi.syncSubscription.mockResolvedValueOnce(PAST_DUE)
    await mountForm(fake)
    await save()
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe(
      'Your new card is saved, but the open payment was not confirmed: We are unable to authenticate your payment method.',
    )
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(useBillingStore().paymentMethod).toEqual(NEW)
    expect(wrapper.emitted('saved')).toBeUndefined()
  })

  it('the new card is saved but the open invoice stayed open: said', async () => {
    const fake = fakeStripe()
    const open = invoiceObject('in_open', { status: 'open' })
    billingApi.updatePaymentMethod.mockResolvedValueOnce({ payment_method: NEW, invoice: open })
    billingApi.syncSubscription.mockResolvedValueOnce(PAST_DUE)
    await mountForm(fake)
    await save()
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe(INVOICE_STILL_OPEN)
  })

  it('saves one card however often Save is clicked', async () => {
    const fake = fakeStripe()
    let answer
    billingApi.createSetupIntent.mockImplementation(() => new Promise((r) => (answer = r)))
    await mountForm(fake)
    const button = wrapper.get('[data-test="change-card-submit"]')
    await Promise.all([button.trigger('click'), button.trigger('click'), button.trigger('click')])
    await flush()
    expect(billingApi.createSetupIntent).toHaveBeenCalledTimes(1)
    answer(SETI)
    for (let i = 0; i < 4; i++) await flush()
    expect(billingApi.updatePaymentMethod).toHaveBeenCalledTimes(1)
  })

  it('signed out meanwhile (401): to the sign-in page and back to the account', async () => {
    const fake = fakeStripe()
    billingApi.createSetupIntent.mockRejectedValueOnce(httpError(401, { detail: 'Not signed in.' }))
    fetchAccount.mockRejectedValueOnce(httpError(401, {}))
    await mountForm(fake)
    await save()
    expect(router.currentRoute.value.fullPath).toBe('/login?next=/account')
  })

  it("with the offline stand-in's Stripe.js: setup mode mounts its labelled fields", async () => {
    const source = readFileSync(STAND_IN, 'utf8')
    vi.spyOn(console, 'log').mockImplementation(() => {})
    new Function(source)()
    const standIn = { load: vi.fn(async () => window.Stripe(CONFIG.publishable_key)) }
    try {
      await mountForm(standIn)
      const host = wrapper.get('[data-test="payment-element"]')
      expect(host.find('[data-test="card-number"]').exists()).toBe(true)
      expect(wrapper.get('[data-test="change-card-submit"]').attributes('disabled')).toBeUndefined()
      await save()
      expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Your card number is incomplete.')
      expect(billingApi.createSetupIntent).not.toHaveBeenCalled()
    } finally {
      delete window.Stripe
    }
  })
})
