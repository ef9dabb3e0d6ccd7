import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { h, onMounted, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, CONFIG, flush, httpError, statusObject } from './helpers'
import { INCOMPLETE_NUMBER, fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { usePurchase, redirectReturn, NOT_COMPLETED, NOT_THROUGH_YET, PROCESSING } =
  await import('@/composables/usePurchase')

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
      { path: '/premium', name: 'premium', component: page },
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
      onMounted(() => purchase.payment.mount(el.value))
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
  it('loads the config, mounts the Payment Element for the price and is ready', async () => {
    const fake = fakeStripe()
    const { payment, submitting, errorText, purchased } = await setup(fake)
    expect(fake.load).toHaveBeenCalledWith(CONFIG)
    expect(fake.stripe.elements).toHaveBeenCalledWith(
      expect.objectContaining({ mode: 'subscription', amount: 2000, currency: 'usd' }),
    )
    expect(fake.element.mount).toHaveBeenCalledOnce()
    expect(payment.ready.value).toBe(true)
    expect(submitting.value).toBe(false)
    expect(errorText.value).toBe('')
    expect(purchased.value).toBeNull()
  })

  it('succeeds: submits, creates, confirms (3-D Secure in Stripe.js), syncs, resolves the premium status', async () => {
    const fake = fakeStripe()
    const purchase = await setup(fake)
    await useAccountStore().refresh()
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))

    const status = await purchase.purchase()

    expect(fake.elements.submit).toHaveBeenCalledOnce()
    expect(fake.stripe.confirmPayment).toHaveBeenCalledWith({
      elements: fake.elements,
      clientSecret: 'pi_1_secret_abc',
      confirmParams: { return_url: `${window.location.origin}/premium` },
      redirect: 'if_required',
    })
    expect(status).toMatchObject({ state: 'active', premium: true })
    expect(purchase.purchased.value).toEqual(status)
    expect(purchase.errorText.value).toBe('')
    expect(purchase.submitting.value).toBe(false)
    expect(useAccountStore().isPremium).toBe(true)
    expect(useAccountStore().subscription.state).toBe('active')
  })

  it('an incomplete form stops before anything is created', async () => {
    const fake = fakeStripe({ submitResult: INCOMPLETE_NUMBER })
    const purchase = await setup(fake)
    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe('Your card number is incomplete.')
    expect(billingApi.createSubscription).not.toHaveBeenCalled()
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
    expect(purchase.submitting.value).toBe(false)
  })

  it("fails on a declined card with Stripe's sentence and stays free", async () => {
    const fake = fakeStripe({
      confirmResult: {
        error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
      },
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
    const fake = fakeStripe({ confirmResult: AUTH_FAILED })
    const purchase = await setup(fake)
    await useAccountStore().refresh()
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)

    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe(AUTH_FAILED.error.message)
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()

    fake.stripe.confirmPayment.mockResolvedValueOnce({ error: { type: 'card_error' } })
    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe(NOT_COMPLETED)

    fake.stripe.confirmPayment.mockResolvedValueOnce({ paymentIntent: { status: 'succeeded' } })
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
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
    expect(purchase.submitting.value).toBe(false)
    expect(router.currentRoute.value.path).toBe('/premium')
  })

  it("says so when Stripe cannot be reached while confirming (Stripe.js's sentence)", async () => {
    const fake = fakeStripe({
      confirmResult: { error: { type: 'api_connection_error', message: 'We could not reach Stripe.' } },
    })
    const purchase = await setup(fake)
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)
    expect(await purchase.purchase()).toBeNull()
    expect(purchase.errorText.value).toBe('We could not reach Stripe.')
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()
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
    await flush()
    expect(billingApi.createSubscription).toHaveBeenCalledTimes(1)

    answer({ subscription_id: 'sub_1', status: 'active', client_secret: null, premium: true })
    expect(await first).toMatchObject({ premium: true })
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
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

  it('a payment the bank is still processing is news, not an error', async () => {
    const fake = fakeStripe({ confirmResult: { paymentIntent: { id: 'pi_1', status: 'processing' } } })
    const purchase = await setup(fake)
    billingApi.createSubscription.mockResolvedValue(NEEDS_3DS)
    billingApi.syncSubscription.mockResolvedValue(statusObject('incomplete'))
    expect(await purchase.purchase()).toBeNull()
    expect(purchase.statusText.value).toBe(PROCESSING)
    expect(purchase.errorText.value).toBe('')
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
    const { payment } = await setup(fake)
    expect(payment.loadError.value).toBe('Payments are down.')
    expect(payment.ready.value).toBe(false)
    expect(fake.load).not.toHaveBeenCalled()
  })

  it.each([
    ['succeeded', { paymentIntent: { id: 'pi_1', status: 'succeeded' } }, NOT_THROUGH_YET],
    ['failed', { paymentIntent: { id: 'pi_1', status: 'requires_payment_method' } }, NOT_COMPLETED],
    ['pending', { paymentIntent: { id: 'pi_1', status: 'processing' } }, ''],
    // A crafted link: "pending" in the query, but Stripe knows no such intent.
    [
      'pending',
      { error: { type: 'invalid_request_error', message: 'No such payment_intent' } },
      NOT_COMPLETED,
    ],
  ])(
    'after a redirect (%s) that did not make the account premium, says why',
    async (redirect, retrieved, sentence) => {
      const fake = fakeStripe({ retrieveResult: retrieved })
      const purchase = await setup(fake)
      billingApi.syncSubscription.mockResolvedValue(statusObject('incomplete'))
      const query = {
        payment_intent: 'pi_1',
        payment_intent_client_secret: 'pi_1_secret_abc',
        redirect_status: redirect,
      }
      expect(await purchase.resume(query)).toBeNull()
      expect(purchase.errorText.value).toBe(sentence)
      expect(purchase.statusText.value).toBe(sentence ? '' : PROCESSING)
      expect(purchase.submitting.value).toBe(false)
    },
  )

  it('reads only return parameters that fit together', () => {
    const good = {
      payment_intent: 'pi_1',
      payment_intent_client_secret: 'pi_1_secret_a',
      redirect_status: 'failed',
    }
    expect(redirectReturn(good)).toEqual({
      paymentIntent: 'pi_1',
      clientSecret: 'pi_1_secret_a',
      redirectStatus: 'failed',
    })
    expect(redirectReturn({})).toBeNull()
    expect(redirectReturn({ ...good, payment_intent_client_secret: 'pi_2_secret_a' })).toBeNull()
    expect(redirectReturn({ ...good, redirect_status: 'maybe' })).toBeNull()
    expect(redirectReturn({ ...good, payment_intent: ['pi_1', 'pi_2'] })).toBeNull()
    expect(redirectReturn({ ...good, payment_intent: 'pi_1<script>' })).toBeNull()
  })
})
