import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { accountPayload, CONFIG, flush, httpError, statusObject } from './helpers'
import { DECLINED, INCOMPLETE_NUMBER, fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: CardPurchaseForm } = await import('@/components/CardPurchaseForm.vue')

// The offline Stripe.js stand-in (its inputs are what the browser tests fill in).
const STAND_IN = resolve(import.meta.dirname, '../../tools/fakestripe/fakestripe/js/stripe-v3.js')

const NEEDS_CONFIRMING = {
  subscription_id: 'sub_1',
  status: 'incomplete',
  client_secret: 'pi_1_secret_abc',
  premium: false,
}

let router
let pinia

async function mountForm(fake, { path = '/premium' } = {}) {
  const page = { render: () => null }
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', component: page },
      { path: '/premium', name: 'premium', component: page },
      { path: '/account', name: 'account', component: page },
      { path: '/login', name: 'login', component: page },
    ],
  })
  await router.push(path)
  const wrapper = mount(CardPurchaseForm, {
    props: { loadStripe: fake.load },
    global: { plugins: [pinia, router] },
    attachTo: document.body,
  })
  for (let i = 0; i < 4; i++) await flush()
  return wrapper
}

const button = (wrapper) => wrapper.find('[data-test="purchase-button"]')
const click = async (wrapper) => {
  await button(wrapper).trigger('click')
  for (let i = 0; i < 3; i++) await flush()
}

beforeEach(async () => {
  vi.clearAllMocks()
  pinia = createPinia()
  setActivePinia(pinia)
  billingApi.fetchStripeConfig.mockResolvedValue(CONFIG)
  fetchAccount.mockResolvedValue(accountPayload('free'))
  await useAccountStore().refresh()
})

afterEach(() => {
  document.body.innerHTML = ''
})

describe('CardPurchaseForm.vue', () => {
  it("mounts the Payment Element for the config's price and spells the price out", async () => {
    const fake = fakeStripe()
    const wrapper = await mountForm(fake)
    expect(fake.load).toHaveBeenCalledWith(CONFIG)
    expect(fake.stripe.elements).toHaveBeenCalledWith(
      expect.objectContaining({ mode: 'subscription', amount: 2000, currency: 'usd' }),
    )
    expect(fake.elements.create).toHaveBeenCalledWith('payment', expect.any(Object))
    expect(wrapper.get('[data-test="price-terms"]').text()).toBe('USD 20.00 per month, cancel any time.')
    const host = wrapper.get('[data-test="payment-element"]')
    expect(fake.element.mount).toHaveBeenCalledExactlyOnceWith(host.element)
    expect(wrapper.get(`#${host.attributes('aria-labelledby')}`).text()).toBe('Card details')
    expect(button(wrapper).attributes('disabled')).toBeUndefined()
  })

  it("shows the offline stand-in's Payment Element: visibly labelled, test-addressable fields", async () => {
    // The stand-in Stripe.js the dev stack and the browser tests serve at /js.stripe.com/v3/.
    const source = readFileSync(STAND_IN, 'utf8')
    vi.spyOn(console, 'log').mockImplementation(() => {})
    new Function(source)()
    const standIn = { load: vi.fn(async () => window.Stripe(CONFIG.publishable_key)) }
    try {
      const wrapper = await mountForm(standIn)
      const host = wrapper.get('[data-test="payment-element"]')
      const fields = host.findAll('input, select').map((field) => ({
        label: field.element.labels[0]?.textContent,
        test: field.attributes('data-test'),
        autocomplete: field.attributes('autocomplete'),
      }))
      expect(fields).toEqual([
        { label: 'Card number', test: 'card-number', autocomplete: 'cc-number' },
        { label: 'Expiration date', test: 'card-expiry', autocomplete: 'cc-exp' },
        { label: 'Security code', test: 'card-cvc', autocomplete: 'cc-csc' },
        { label: 'Country', test: 'card-country', autocomplete: 'country' },
        { label: 'ZIP code', test: 'card-postal-code', autocomplete: 'postal-code' },
      ])
      expect(button(wrapper).attributes('disabled')).toBeUndefined()

      // Purchase with an empty form: the stand-in's own validation, shown, and nothing created.
      await click(wrapper)
      expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Your card number is incomplete.')
      expect(host.get('[data-test="card-number"]').attributes('aria-invalid')).toBe('true')
      expect(billingApi.createSubscription).not.toHaveBeenCalled()

      wrapper.unmount()
      expect(host.element.querySelector('input')).toBeNull()
    } finally {
      delete window.Stripe
    }
  })

  it('an incomplete card form creates nothing and says what is missing', async () => {
    const fake = fakeStripe({ submitResult: INCOMPLETE_NUMBER })
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Your card number is incomplete.')
    expect(billingApi.createSubscription).not.toHaveBeenCalled()
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
    expect(button(wrapper).attributes('disabled')).toBeUndefined()
  })

  it('becomes premium: submit → create → confirmPayment (3-D Secure in Stripe.js) → sync', async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockResolvedValue(NEEDS_CONFIRMING)
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(fake.elements.submit).toHaveBeenCalledOnce()
    expect(billingApi.createSubscription).toHaveBeenCalledOnce()
    expect(fake.stripe.confirmPayment).toHaveBeenCalledWith({
      elements: fake.elements,
      clientSecret: 'pi_1_secret_abc',
      confirmParams: { return_url: `${window.location.origin}/premium` },
      redirect: 'if_required',
    })
    expect(fake.elements.submit.mock.invocationCallOrder[0]).toBeLessThan(
      billingApi.createSubscription.mock.invocationCallOrder[0],
    )
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(wrapper.emitted('purchased')).toHaveLength(1)
    expect(wrapper.find('[data-test="purchase-success"]').text()).toContain('You are Premium now')
    expect(useAccountStore().isPremium).toBe(true)
  })

  it('becomes premium when the server needs no confirmation', async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockResolvedValue({
      ...NEEDS_CONFIRMING,
      status: 'active',
      client_secret: null,
    })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
    expect(wrapper.emitted('purchased')).toHaveLength(1)
  })

  it("shows Stripe's message on a declined card, stays free, and the same page tries again", async () => {
    const fake = fakeStripe({ confirmResult: DECLINED })
    billingApi.createSubscription.mockResolvedValue(NEEDS_CONFIRMING)
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Your card was declined.')
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()
    expect(useAccountStore().tier).toBe('free')
    expect(wrapper.emitted('purchased')).toBeUndefined()
    expect(button(wrapper).attributes('disabled')).toBeUndefined()

    // Another card: the backend answers with the same open subscription, the same secret.
    fake.stripe.confirmPayment.mockResolvedValueOnce({ paymentIntent: { id: 'pi_1', status: 'succeeded' } })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await click(wrapper)
    expect(billingApi.createSubscription).toHaveBeenCalledTimes(2)
    expect(fake.stripe.confirmPayment.mock.calls[1][0].clientSecret).toBe('pi_1_secret_abc')
    expect(wrapper.find('[data-test="payment-error"]').exists()).toBe(false)
    expect(wrapper.emitted('purchased')).toHaveLength(1)
  })

  it('makes one API call however often Purchase is clicked', async () => {
    const fake = fakeStripe()
    let answer
    billingApi.createSubscription.mockImplementation(() => new Promise((resolve) => (answer = resolve)))
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    const wrapper = await mountForm(fake)
    const b = button(wrapper)
    await Promise.all([b.trigger('click'), b.trigger('click'), b.trigger('click')])
    await flush()
    expect(fake.elements.submit).toHaveBeenCalledTimes(1)
    expect(billingApi.createSubscription).toHaveBeenCalledTimes(1)
    expect(b.attributes('disabled')).toBeDefined()
    answer({ subscription_id: 'sub_1', status: 'active', client_secret: null, premium: true })
    await flush()
    await flush()
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
  })

  it('goes to the account page when the server says already premium (409)', async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockRejectedValue(httpError(409, { detail: 'You are already Premium.' }))
    const wrapper = await mountForm(fake)
    await click(wrapper)
    await flush()
    expect(router.currentRoute.value.name).toBe('account')
  })

  it.each([
    [402, 'Your card has insufficient funds.'],
    [502, 'Payments are unavailable right now. Nothing was charged; please try again.'],
  ])('shows the detail sentence of a %s', async (status, detail) => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockRejectedValue(httpError(status, { detail, code: 'x' }))
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe(detail)
    expect(useAccountStore().tier).toBe('free')
  })

  it('says why the card form is missing when the config cannot be read, and stops saying "Loading"', async () => {
    const fake = fakeStripe()
    billingApi.fetchStripeConfig.mockRejectedValue(httpError(503, { detail: 'Payments are down.' }))
    const wrapper = await mountForm(fake)
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Payments are down.')
    expect(wrapper.text()).not.toContain('Loading the secure payment form')
    expect(fake.load).not.toHaveBeenCalled()
    expect(button(wrapper).attributes('disabled')).toBeDefined()
  })

  it('finishes a purchase that came back from a redirect, and takes the secret out of the address', async () => {
    const fake = fakeStripe()
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const wrapper = await mountForm(fake, {
      path: '/premium?payment_intent=pi_1&payment_intent_client_secret=pi_1_secret_abc&redirect_status=succeeded',
    })
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(billingApi.createSubscription).not.toHaveBeenCalled()
    expect(router.currentRoute.value.fullPath).toBe('/premium')
    expect(wrapper.find('[data-test="purchase-success"]').text()).toContain('You are Premium now')
    expect(wrapper.emitted('purchased')).toHaveLength(1)
  })

  it("says why a redirected payment failed (Stripe's reason) and lets the user try again", async () => {
    const fake = fakeStripe({
      retrieveResult: {
        paymentIntent: {
          id: 'pi_1',
          status: 'requires_payment_method',
          last_payment_error: { message: 'The bank did not authorise the payment.' },
        },
      },
    })
    billingApi.syncSubscription.mockResolvedValue(statusObject('incomplete'))
    const wrapper = await mountForm(fake, {
      path: '/premium?payment_intent=pi_1&payment_intent_client_secret=pi_1_secret_abc&redirect_status=failed',
    })
    expect(fake.stripe.retrievePaymentIntent).toHaveBeenCalledWith('pi_1_secret_abc')
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('The bank did not authorise the payment.')
    expect(router.currentRoute.value.fullPath).toBe('/premium')
    expect(button(wrapper).attributes('disabled')).toBeUndefined()
    expect(wrapper.emitted('purchased')).toBeUndefined()
  })

  it('ignores return parameters that do not fit together', async () => {
    const fake = fakeStripe()
    const wrapper = await mountForm(fake, {
      path: '/premium?payment_intent=pi_1&payment_intent_client_secret=pi_2_secret_x&redirect_status=succeeded',
    })
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()
    expect(fake.stripe.retrievePaymentIntent).not.toHaveBeenCalled()
    expect(wrapper.find('[data-test="payment-error"]').exists()).toBe(false)
  })
})
