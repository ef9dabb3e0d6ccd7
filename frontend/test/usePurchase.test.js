import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { h, onMounted, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, CONFIG, flush, httpError, statusObject } from './helpers'
import { fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { usePurchase, NOT_COMPLETED, NOT_THROUGH_YET } = await import('@/composables/usePurchase')

const NEEDS_3DS = {
  subscription_id: 'sub_1',
  status: 'incomplete',
  client_secret: 'pi_1_secret_abc',
  premium: false,
}
const AUTH_FAILED = {
  error: {
    type: 'invalid_request_error',
    code: 'payment_intent_authentication_failure',
    message:
      'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
  },
}

let router
let pinia
let wrapper

/** usePurchase() inside a bare component (it needs the router and the component's lifetime). */
async function setup(fake) {
  const page = { render: () => null }
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/premium', component: page },
      { path: '/account', name: 'account', component: page },
      { path: '/login', name: 'login', component: page },
    ],
  })
  await router.push('/premium')
  let purchase
  const Host = {
    setup() {
      purchase = usePurchase({ loadStripe: fake.load })
      const el = ref(null)
      onMounted(() => purchase.start(el.value))
      return () => h('div', { ref: el })
    },
  }
  wrapper = mount(Host, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flush()
  await flush()
  return purchase
}

beforeEach(() => {
  vi.clearAllMocks()
  pinia = createPinia()
  setActivePinia(pinia)
  billingApi.fetchStripeConfig.mockResolvedValue(CONFIG)
  fetchAccount.mockResolvedValue(accountPayload('free'))
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  document.body.innerHTML = ''
})

describe('usePurchase', () => {
  it('loads the config, mounts the card and is ready', async () => {
    const fake = fakeStripe()
    const { ready, submitting, errorText, purchased } = await setup(fake)
    expect(fake.load).toHaveBeenCalledWith(CONFIG)
    expect(fake.card.mount).toHaveBeenCalledOnce()
    expect(ready.value).toBe(true)
    expect(submitting.value).toBe(false)
    expect(errorText.value).toBe('')
    expect(purchased.value).toBeNull()
  })

  it('succeeds: creates, confirms with 3-D Secure, syncs, and resolves the premium status', async () => {
    const fake = fakeStripe()
    const purchase = await setup(fake)
    await useAccountStore().refresh()
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))

    const status = await purchase.purchase()

    expect(fake.stripe.confirmCardPayment).toHaveBeenCalledWith('pi_1_secret_abc', {
      payment_method: { card: fake.card },
    })
    expect(status).toMatchObject({ state: 'active', premium: true })
    expect(purchase.purchased.value).toEqual(status)
    expect(purchase.errorText.value).toBe('')
    expect(purchase.submitting.value).toBe(false)
    expect(useAccountStore().isPremium).toBe(true)
    expect(useAccountStore().subscription.state).toBe('active')
  })

  it("fails on a declined card with Stripe's sentence and stays free", async () => {
    const fake = fakeStripe({
      error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
    })
    const purchase = await setup(fake)
    await useAccountStore().refresh()
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)

    expect(await purchase.purchase()).toBeNull()

    expect(purchase.errorText.value).toBe('Your card was declined.')
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()
    expect(purchase.purchased.value).toBeNull()
    expect(purchase.submitting.value).toBe(false)
    expect(useAccountStore().tier).toBe('free')
  })

  it('fails when 3-D Secure authentication fails, and a second try starts clean', async () => {
    const fake = fakeStripe(AUTH_FAILED)
    const purchase = await setup(fake)
    await useAccountStore().refresh()
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)

    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe(AUTH_FAILED.error.message)
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()

    fake.stripe.confirmCardPayment.mockResolvedValueOnce({ error: { type: 'card_error' } })
    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe(NOT_COMPLETED)

    fake.stripe.confirmCardPayment.mockResolvedValueOnce({ paymentIntent: { status: 'succeeded' } })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    expect(await purchase.purchase()).toMatchObject({ premium: true })
    expect(purchase.errorText.value).toBe('')
    expect(billingApi.createSubscription).toHaveBeenCalledTimes(3)
  })

  it('says the server could not be reached on a network error', async () => {
    const fake = fakeStripe()
    const purchase = await setup(fake)
    billingApi.createSubscription.mockRejectedValue(new Error('Network Error'))

    expect(await purchase.purchase()).toBeNull()

    expect(purchase.errorText.value).toBe(
      'The server could not be reached. Check your connection and try again.',
    )
    expect(fake.stripe.confirmCardPayment).not.toHaveBeenCalled()
    expect(purchase.submitting.value).toBe(false)
    expect(router.currentRoute.value.path).toBe('/premium')
  })

  it('runs one purchase however often it is asked while one is under way', async () => {
    const fake = fakeStripe()
    const purchase = await setup(fake)
    let answer
    billingApi.createSubscription.mockImplementation(() => new Promise((resolve) => (answer = resolve)))
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))

    const first = purchase.purchase()
    expect(purchase.submitting.value).toBe(true)
    expect(await purchase.purchase()).toBeNull()
    expect(await purchase.purchase()).toBeNull()
    expect(billingApi.createSubscription).toHaveBeenCalledTimes(1)

    answer({ subscription_id: 'sub_1', status: 'active', client_secret: null, premium: true })
    expect(await first).toMatchObject({ premium: true })
    expect(fake.stripe.confirmCardPayment).not.toHaveBeenCalled()
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(purchase.submitting.value).toBe(false)
  })

  it('asks to try again when the payment has not gone through after sync', async () => {
    const fake = fakeStripe()
    const purchase = await setup(fake)
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)
    billingApi.syncSubscription.mockResolvedValue(statusObject('incomplete'))

    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe(NOT_THROUGH_YET)
    expect(purchase.purchased.value).toBeNull()
  })

  it('sends a signed-out visitor to sign in and back to /premium (401)', async () => {
    const fake = fakeStripe()
    const purchase = await setup(fake)
    billingApi.createSubscription.mockRejectedValue(httpError(401, { detail: 'Please sign in first.' }))
    fetchAccount.mockRejectedValue(httpError(401))

    expect(await purchase.purchase()).toBeNull()

    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.next).toBe('/premium')
    expect(useAccountStore().tier).toBe('guest')
  })

  it('says why when the config cannot be read, and never loads Stripe.js', async () => {
    const fake = fakeStripe()
    billingApi.fetchStripeConfig.mockRejectedValue(httpError(503, { detail: 'Payments are down.' }))
    const { ready, errorText } = await setup(fake)
    expect(errorText.value).toBe('Payments are down.')
    expect(ready.value).toBe(false)
    expect(fake.load).not.toHaveBeenCalled()
  })
})
