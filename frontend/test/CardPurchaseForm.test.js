import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { accountPayload, CONFIG, flush, httpError, statusObject } from './helpers'
import { fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: CardPurchaseForm } = await import('@/components/CardPurchaseForm.vue')

// The offline Stripe.js stand-in (its inputs are what the browser tests fill in).
const STAND_IN = resolve(import.meta.dirname, '../../tools/fakestripe/fakestripe/js/stripe-v3.js')

let router
let pinia

async function mountForm(fake) {
  const page = { render: () => null }
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', component: page },
      { path: '/premium', component: page },
      { path: '/account', name: 'account', component: page },
      { path: '/login', name: 'login', component: page },
    ],
  })
  await router.push('/premium')
  const wrapper = mount(CardPurchaseForm, {
    props: { loadStripe: fake.load },
    global: { plugins: [pinia, router] },
    attachTo: document.body,
  })
  await flush()
  await flush()
  return wrapper
}

const button = (wrapper) => wrapper.find('[data-test="purchase-button"]')
const click = async (wrapper) => {
  await button(wrapper).trigger('click')
  await flush()
  await flush()
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
  it('mounts the card element in a labelled group and spells out the price from the config', async () => {
    const fake = fakeStripe()
    const wrapper = await mountForm(fake)
    expect(fake.load).toHaveBeenCalledWith(CONFIG)
    expect(fake.elements.create).toHaveBeenCalledWith('card', expect.any(Object))
    expect(wrapper.get('[data-test="price-terms"]').text()).toBe('USD 20.00 per month, cancel any time.')
    const host = wrapper.get('[data-test="card-element"]')
    expect(fake.card.mount).toHaveBeenCalledExactlyOnceWith(host.element)
    const label = wrapper.get(`#${host.attributes('aria-labelledby')}`)
    expect(label.text()).toBe('Card details')
    expect(host.get('[data-test="card-number"]').attributes('aria-label')).toBe('Card number')
    expect(button(wrapper).attributes('disabled')).toBeUndefined()
  })

  it("shows the offline stand-in's own labelled, test-addressable inputs", async () => {
    // The stand-in Stripe.js the dev stack and the browser tests serve at /js.stripe.com/v3/.
    const source = readFileSync(STAND_IN, 'utf8')
    vi.spyOn(console, 'log').mockImplementation(() => {})
    new Function(source)()
    const standIn = { load: vi.fn(async () => window.Stripe(CONFIG.publishable_key)) }
    try {
      const wrapper = await mountForm(standIn)
      const host = wrapper.get('[data-test="card-element"]')
      const inputs = host.findAll('input').map((input) => ({
        label: input.attributes('aria-label'),
        test: input.attributes('data-test'),
        inputmode: input.attributes('inputmode'),
      }))
      expect(inputs).toEqual([
        { label: 'Card number', test: 'card-number', inputmode: 'numeric' },
        { label: 'Expiration month (MM)', test: 'card-exp-month', inputmode: 'numeric' },
        { label: 'Expiration year (YY)', test: 'card-exp-year', inputmode: 'numeric' },
        { label: 'CVC', test: 'card-cvc', inputmode: 'numeric' },
        { label: 'ZIP / postal code', test: 'card-postal-code', inputmode: 'text' },
      ])
      expect(button(wrapper).attributes('disabled')).toBeUndefined()
      wrapper.unmount()
      expect(host.element.querySelector('input')).toBeNull()
    } finally {
      delete window.Stripe
    }
  })

  it('becomes premium when no confirmation is needed', async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockResolvedValue({
      subscription_id: 'sub_1',
      status: 'active',
      client_secret: null,
      premium: true,
    })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(fake.stripe.confirmCardPayment).not.toHaveBeenCalled()
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(wrapper.emitted('purchased')).toHaveLength(1)
    expect(wrapper.find('[data-test="purchase-success"]').text()).toContain('You are Premium now')
    expect(useAccountStore().isPremium).toBe(true)
  })

  it('confirms the payment in the browser when the server returns a client secret (3-D Secure)', async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockResolvedValue({
      subscription_id: 'sub_1',
      status: 'incomplete',
      client_secret: 'pi_1_secret_abc',
      premium: false,
    })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(billingApi.createSubscription).toHaveBeenCalledOnce()
    expect(fake.stripe.confirmCardPayment).toHaveBeenCalledWith('pi_1_secret_abc', {
      payment_method: { card: fake.card },
    })
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(wrapper.emitted('purchased')).toHaveLength(1)
    expect(useAccountStore().isPremium).toBe(true)
  })

  it("shows Stripe's message on a declined card, stays free, and lets the user try again", async () => {
    const fake = fakeStripe({ error: { type: 'card_error', message: 'Your card was declined.' } })
    billingApi.createSubscription.mockResolvedValue({
      subscription_id: 'sub_1',
      status: 'incomplete',
      client_secret: 'pi_1_secret_abc',
      premium: false,
    })
    const wrapper = await mountForm(fake)
    await click(wrapper)
    expect(wrapper.get('[data-test="purchase-error"]').text()).toBe('Your card was declined.')
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()
    expect(useAccountStore().tier).toBe('free')
    expect(wrapper.emitted('purchased')).toBeUndefined()
    expect(button(wrapper).attributes('disabled')).toBeUndefined()

    // Another card: the backend answers with the same open subscription.
    fake.stripe.confirmCardPayment.mockResolvedValueOnce({ paymentIntent: { status: 'succeeded' } })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await click(wrapper)
    expect(billingApi.createSubscription).toHaveBeenCalledTimes(2)
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
    expect(wrapper.get('[data-test="purchase-error"]').text()).toBe(detail)
    expect(useAccountStore().tier).toBe('free')
  })

  it('says why the card form is missing when the config cannot be read, and stops saying "Loading"', async () => {
    const fake = fakeStripe()
    billingApi.fetchStripeConfig.mockRejectedValue(httpError(503, { detail: 'Payments are down.' }))
    const wrapper = await mountForm(fake)
    expect(wrapper.get('[data-test="purchase-error"]').text()).toBe('Payments are down.')
    expect(wrapper.text()).not.toContain('Loading the secure card form')
    expect(fake.load).not.toHaveBeenCalled()
    expect(button(wrapper).attributes('disabled')).toBeDefined()
  })

  it('creates no card element when the page closes before Stripe.js has loaded', async () => {
    const fake = fakeStripe()
    let loaded
    fake.load.mockImplementation(() => new Promise((resolve) => (loaded = resolve)))
    const wrapper = await mountForm(fake)
    wrapper.unmount()
    loaded(fake.stripe)
    await flush()
    expect(fake.elements.create).not.toHaveBeenCalled()
    expect(fake.card.mount).not.toHaveBeenCalled()
  })

  it('destroys the card element when the page closes', async () => {
    const fake = fakeStripe()
    const wrapper = await mountForm(fake)
    wrapper.unmount()
    expect(fake.card.destroy).toHaveBeenCalledOnce()
  })
})
