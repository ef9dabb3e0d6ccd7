// The purchase page of issue 15: monthly or yearly, a promotion code checked by the server, the free
// trial (the element in setup mode, confirmSetup with the subscription's pending SetupIntent).
// CardPurchaseForm.vue + usePurchase() with a fake Stripe (mocks/fakeStripe.js), and once with the
// offline stand-in's Stripe.js (its elements.update() between the modes).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  MONTHLY,
  PLANS_CONFIG,
  YEARLY,
  accountPayload,
  flush,
  httpError,
  promotionAnswer,
  statusObject,
} from './helpers'
import { fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: CardPurchaseForm } = await import('@/components/CardPurchaseForm.vue')

const STAND_IN = resolve(import.meta.dirname, '../../tools/fakestripe/fakestripe/js/stripe-v3.js')

const FREE_ELIGIBLE = accountPayload('free', { subscription: statusObject('none', { trial_eligible: true }) })
const NEEDS_CONFIRMING = {
  subscription_id: 'sub_1',
  status: 'incomplete',
  client_secret: 'pi_1_secret_abc',
  intent_type: 'payment',
  premium: false,
  trial_end: null,
}
const TRIAL_END = '2026-12-08T21:00:00Z'
const TRIAL_STARTED = {
  subscription_id: 'sub_1',
  status: 'trialing',
  client_secret: 'seti_1_secret_abc',
  intent_type: 'setup',
  premium: true,
  trial_end: TRIAL_END,
}
const TRIALING = statusObject('active', {
  stripe_status: 'trialing',
  trial_end: TRIAL_END,
  premium_until: TRIAL_END,
  price: MONTHLY,
  interval: 'month',
  trial_eligible: false,
})

let pinia
let router

async function mountForm(fake) {
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
  const wrapper = mount(CardPurchaseForm, {
    props: { loadStripe: fake.load },
    global: { plugins: [pinia, router] },
    attachTo: document.body,
  })
  await settle()
  return wrapper
}

const settle = async (n = 6) => {
  for (let i = 0; i < n; i++) await flush()
}
const byTest = (wrapper, name) => wrapper.get(`[data-test="${name}"]`)
const planOption = (wrapper, interval) =>
  wrapper.get(`[data-test="plan-option"][data-interval="${interval}"]`)
async function applyCode(wrapper, code) {
  await wrapper.get('input[data-test="promotion-code-input"]').setValue(code)
  await byTest(wrapper, 'promotion-apply').trigger('click')
  await settle()
}
async function purchase(wrapper) {
  await byTest(wrapper, 'purchase-button').trigger('click')
  await settle(8)
}

beforeEach(async () => {
  vi.clearAllMocks()
  pinia = createPinia()
  setActivePinia(pinia)
  billingApi.fetchStripeConfig.mockResolvedValue(PLANS_CONFIG)
  fetchAccount.mockResolvedValue(FREE_ELIGIBLE)
  await useAccountStore().refresh()
})

afterEach(() => {
  document.body.innerHTML = ''
})

describe('the plan choice', () => {
  it('offers monthly and yearly from the config, with the saving computed, monthly chosen', async () => {
    const fake = fakeStripe()
    const wrapper = await mountForm(fake)
    const group = byTest(wrapper, 'plan-choice')
    expect(group.attributes('role')).toBe('radiogroup')
    expect(wrapper.get(`#${group.attributes('aria-labelledby')}`).text()).toBe('Plan')
    expect(planOption(wrapper, 'month').text()).toBe('Monthly: USD 20.00/month')
    expect(planOption(wrapper, 'year').text()).toBe(
      'Yearly: USD 200.00/year, save USD 40.00 (17%) against 12 monthly payments',
    )
    expect(planOption(wrapper, 'month').attributes('aria-checked')).toBe('true')
    expect(byTest(wrapper, 'price-terms').text()).toBe('USD 20.00 per month, cancel any time.')
    expect(fake.stripe.elements).toHaveBeenCalledWith(
      expect.objectContaining({ mode: 'subscription', amount: 2000, currency: 'usd' }),
    )
  })

  it('yearly: the element charges the yearly amount and create-subscription gets the yearly price', async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockResolvedValue(NEEDS_CONFIRMING)
    billingApi.syncSubscription.mockResolvedValue(statusObject('active', { price: YEARLY, interval: 'year' }))
    const wrapper = await mountForm(fake)
    await planOption(wrapper, 'year').trigger('click')
    await settle()
    expect(planOption(wrapper, 'year').attributes('aria-checked')).toBe('true')
    expect(byTest(wrapper, 'price-terms').text()).toBe('USD 200.00 per year, cancel any time.')
    expect(fake.elements.update).toHaveBeenLastCalledWith({
      mode: 'subscription',
      amount: 20000,
      currency: 'usd',
    })

    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await purchase(wrapper)
    expect(billingApi.createSubscription).toHaveBeenCalledExactlyOnceWith({
      price: 'opensecdata_premium_yearly',
      promotionCode: undefined,
      trial: false,
    })
    expect(fake.stripe.confirmPayment).toHaveBeenCalledOnce()
    expect(byTest(wrapper, 'purchase-success').text()).toBe('You are Premium now. Paid until 26 Dec 2026.')
  })

  it('an older server (config without prices) still sells its one price, with no choice shown', async () => {
    billingApi.fetchStripeConfig.mockResolvedValue({
      ...PLANS_CONFIG,
      prices: undefined,
      trial_days: undefined,
    })
    const fake = fakeStripe()
    const wrapper = await mountForm(fake)
    expect(wrapper.find('[data-test="plan-choice"]').exists()).toBe(false)
    expect(wrapper.find('[data-test="trial"]').exists()).toBe(false)
    expect(byTest(wrapper, 'price-terms').text()).toBe('USD 20.00 per month, cancel any time.')
  })
})

describe('a promotion code', () => {
  it("Apply → the server's first payment before paying; the element's amount and the purchase follow", async () => {
    const fake = fakeStripe()
    billingApi.checkPromotionCode.mockResolvedValue(promotionAnswer())
    billingApi.createSubscription.mockResolvedValue({ ...NEEDS_CONFIRMING })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    const wrapper = await mountForm(fake)
    await applyCode(wrapper, 'welcome50')
    expect(billingApi.checkPromotionCode).toHaveBeenCalledWith({
      code: 'welcome50',
      price: 'opensecdata_premium_monthly',
    })
    const applied = byTest(wrapper, 'promotion-applied')
    expect(applied.text()).toBe('First payment USD 10.00 (50% off), then USD 20.00/month')
    expect(applied.element.parentElement.getAttribute('role')).toBe('status')
    expect(wrapper.get('input[data-test="promotion-code-input"]').attributes('aria-describedby')).toBe(
      applied.attributes('id'),
    )
    expect(fake.elements.update).toHaveBeenLastCalledWith({
      mode: 'subscription',
      amount: 1000,
      currency: 'usd',
    })

    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await purchase(wrapper)
    expect(billingApi.createSubscription).toHaveBeenCalledExactlyOnceWith({
      price: 'opensecdata_premium_monthly',
      promotionCode: 'WELCOME50',
      trial: false,
    })
    expect(byTest(wrapper, 'purchase-success').exists()).toBe(true)
  })

  it("an invalid code: the server's sentence, announced, and nothing is created with it", async () => {
    const fake = fakeStripe()
    billingApi.checkPromotionCode.mockRejectedValue(
      httpError(400, { detail: 'This code has expired.', code: 'invalid_promotion_code' }),
    )
    const wrapper = await mountForm(fake)
    await applyCode(wrapper, 'OLD10')
    const error = byTest(wrapper, 'promotion-error')
    expect(error.text()).toBe('This code has expired.')
    expect(error.attributes('role')).toBe('alert')
    const input = wrapper.get('input[data-test="promotion-code-input"]')
    expect(input.attributes('aria-invalid')).toBe('true')
    expect(input.attributes('aria-describedby')).toBe(error.attributes('id'))
    expect(wrapper.find('[data-test="promotion-applied"]').exists()).toBe(false)

    // Purchase with the code still typed: checked again, refused, nothing created.
    await purchase(wrapper)
    expect(billingApi.checkPromotionCode).toHaveBeenCalledTimes(2)
    expect(billingApi.createSubscription).not.toHaveBeenCalled()
    expect(byTest(wrapper, 'payment-error').text()).toBe('This code has expired.')
  })

  it('is checked again when the plan changes; Remove code goes back to the full price', async () => {
    const fake = fakeStripe()
    billingApi.checkPromotionCode.mockImplementation(async ({ price }) =>
      promotionAnswer(price === 'opensecdata_premium_yearly' ? YEARLY : MONTHLY),
    )
    const wrapper = await mountForm(fake)
    await applyCode(wrapper, 'WELCOME50')
    await planOption(wrapper, 'year').trigger('click')
    await settle()
    expect(billingApi.checkPromotionCode).toHaveBeenLastCalledWith({
      code: 'WELCOME50',
      price: 'opensecdata_premium_yearly',
    })
    expect(byTest(wrapper, 'promotion-applied').text()).toBe(
      'First payment USD 100.00 (50% off), then USD 200.00/year',
    )
    expect(fake.elements.update).toHaveBeenLastCalledWith({
      mode: 'subscription',
      amount: 10000,
      currency: 'usd',
    })

    await byTest(wrapper, 'promotion-remove').trigger('click')
    await settle()
    expect(wrapper.find('[data-test="promotion-applied"]').exists()).toBe(false)
    expect(fake.elements.update).toHaveBeenLastCalledWith({
      mode: 'subscription',
      amount: 20000,
      currency: 'usd',
    })
  })

  it('an empty code asks for one and calls nobody', async () => {
    const wrapper = await mountForm(fakeStripe())
    await applyCode(wrapper, '   ')
    expect(byTest(wrapper, 'promotion-error').text()).toBe('Type a promotion code first.')
    expect(billingApi.checkPromotionCode).not.toHaveBeenCalled()
  })
})

describe('the free trial', () => {
  it('is offered to an eligible user: until when, what then, and that cancelling costs nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-01T21:00:00Z') })
    try {
      const wrapper = await mountForm(fakeStripe())
      expect(byTest(wrapper, 'trial-option').text()).toBe('Start your 7-day free trial')
      const terms = byTest(wrapper, 'trial-terms')
      expect(terms.text()).toBe(
        'Free trial until 8 Dec 2026, then USD 20.00/month; cancel before and pay nothing.',
      )
      expect(byTest(wrapper, 'trial-option').attributes('aria-describedby')).toBe(terms.attributes('id'))
    } finally {
      vi.useRealTimers()
    }
  })

  it.each([
    ['a user who had a subscription', { trial_days: 7 }, false],
    ['no trial configured (0 days)', { trial_days: 0 }, true],
  ])('is not offered to %s', async (_, config, eligible) => {
    billingApi.fetchStripeConfig.mockResolvedValue({ ...PLANS_CONFIG, ...config })
    fetchAccount.mockResolvedValue(
      accountPayload('free', { subscription: statusObject('cancelled', { trial_eligible: eligible }) }),
    )
    await useAccountStore().refresh()
    const wrapper = await mountForm(fakeStripe())
    expect(wrapper.find('[data-test="trial"]').exists()).toBe(false)
  })

  it('setup mode → create {trial: true} → confirmSetup with the pending SetupIntent → sync → trialing', async () => {
    const fake = fakeStripe()
    billingApi.checkPromotionCode.mockResolvedValue(promotionAnswer())
    billingApi.createSubscription.mockResolvedValue(TRIAL_STARTED)
    billingApi.syncSubscription.mockResolvedValue(TRIALING)
    const wrapper = await mountForm(fake)
    // A code applied first: the trial replaces it (the server refuses both together).
    await applyCode(wrapper, 'WELCOME50')
    await byTest(wrapper, 'trial-option').trigger('click')
    await settle()
    expect(fake.elements.update).toHaveBeenLastCalledWith({ mode: 'setup', currency: 'usd' })
    expect(wrapper.find('[data-test="promotion"]').exists()).toBe(false)
    expect(byTest(wrapper, 'purchase-button').text()).toContain('Start free trial')

    fetchAccount.mockResolvedValue(accountPayload('premium', { subscription: TRIALING }))
    await purchase(wrapper)
    expect(billingApi.createSubscription).toHaveBeenCalledExactlyOnceWith({
      price: 'opensecdata_premium_monthly',
      promotionCode: undefined,
      trial: true,
    })
    expect(fake.stripe.confirmSetup).toHaveBeenCalledExactlyOnceWith({
      elements: fake.elements,
      clientSecret: 'seti_1_secret_abc',
      confirmParams: { return_url: `${window.location.origin}/premium` },
      redirect: 'if_required',
    })
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(byTest(wrapper, 'purchase-success').text()).toBe(
      'You are Premium now. Free trial until 8 Dec 2026, then USD 20.00/month; cancel before and pay nothing.',
    )
    expect(wrapper.emitted('purchased')[0][0]).toMatchObject({ stripe_status: 'trialing', premium: true })
  })

  it("a card the bank refuses while saving: Stripe's sentence, no sync, still free", async () => {
    const fake = fakeStripe({
      setupResult: {
        error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
      },
    })
    billingApi.createSubscription.mockResolvedValue(TRIAL_STARTED)
    const wrapper = await mountForm(fake)
    await byTest(wrapper, 'trial-option').trigger('click')
    await settle()
    await purchase(wrapper)
    expect(byTest(wrapper, 'payment-error').text()).toBe('Your card was declined.')
    expect(billingApi.syncSubscription).not.toHaveBeenCalled()
    expect(wrapper.find('[data-test="purchase-success"]').exists()).toBe(false)
  })

  it("409 trial_not_available: the server's sentence on this page, and the option goes away", async () => {
    const fake = fakeStripe()
    billingApi.createSubscription.mockRejectedValue(
      httpError(409, {
        detail: 'The free trial is only for a first subscription.',
        code: 'trial_not_available',
      }),
    )
    const wrapper = await mountForm(fake)
    await byTest(wrapper, 'trial-option').trigger('click')
    await settle()
    fetchAccount.mockResolvedValue(
      accountPayload('free', { subscription: statusObject('cancelled', { trial_eligible: false }) }),
    )
    await purchase(wrapper)
    expect(router.currentRoute.value.name).toBe('premium')
    expect(byTest(wrapper, 'payment-error').text()).toBe('The free trial is only for a first subscription.')
    expect(wrapper.find('[data-test="trial"]').exists()).toBe(false)
    expect(byTest(wrapper, 'purchase-button').text()).toContain('Purchase')
    expect(fake.stripe.confirmSetup).not.toHaveBeenCalled()
  })
})

describe("the offline stand-in's Stripe.js", () => {
  it('follows the choice: subscription amount, then setup mode for the trial, then back', async () => {
    const source = readFileSync(STAND_IN, 'utf8')
    vi.spyOn(console, 'log').mockImplementation(() => {})
    new Function(source)()
    let group
    const standIn = {
      load: vi.fn(async () => {
        const stripe = window.Stripe(PLANS_CONFIG.publishable_key)
        const elements = stripe.elements.bind(stripe)
        stripe.elements = (options) => (group = elements(options))
        return stripe
      }),
    }
    try {
      const wrapper = await mountForm(standIn)
      expect(group._options).toMatchObject({ mode: 'subscription', amount: 2000, currency: 'usd' })
      await planOption(wrapper, 'year').trigger('click')
      await settle()
      expect(group._options).toMatchObject({ mode: 'subscription', amount: 20000, currency: 'usd' })
      await byTest(wrapper, 'trial-option').trigger('click')
      await settle()
      expect(group._options).toMatchObject({ mode: 'setup', currency: 'usd' })
      await byTest(wrapper, 'trial-option').trigger('click')
      await settle()
      expect(group._options).toMatchObject({ mode: 'subscription', amount: 20000, currency: 'usd' })
      // The fields stay mounted all along.
      expect(wrapper.find('[data-test="card-number"]').exists()).toBe(true)
      wrapper.unmount()
    } finally {
      delete window.Stripe
    }
  })
})
