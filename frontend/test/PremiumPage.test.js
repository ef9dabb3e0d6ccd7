import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, CONFIG, flush, PlainPage, statusObject } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))
// One Payment Element that is ready at once, and a payment that succeeds.
const fake = vi.hoisted(() => ({ stripe: null }))
vi.mock('@/api/stripeJs', async () => {
  const { fakeStripe } = await import('./mocks/fakeStripe.js')
  fake.stripe = fakeStripe()
  return { loadStripeFromConfig: fake.stripe.load }
})

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: PremiumPage } = await import('@/pages/PremiumPage.vue')

async function mountPage(path = '/premium') {
  const page = { render: () => null }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/premium', name: 'premium', component: PremiumPage },
      { path: '/:rest(.*)*', name: 'account', component: page },
    ],
  })
  await router.push(path)
  const pinia = createPinia()
  setActivePinia(pinia)
  await useAccountStore().refresh()
  const wrapper = mount(PremiumPage, { global: { plugins: [pinia, router], stubs: { QPage: PlainPage } } })
  for (let i = 0; i < 4; i++) await flush()
  return wrapper
}

beforeEach(() => {
  vi.clearAllMocks()
  billingApi.fetchStripeConfig.mockResolvedValue(CONFIG)
})

describe('PremiumPage', () => {
  it('keeps the purchase form to show its success once the account turns premium', async () => {
    fetchAccount.mockResolvedValue(accountPayload('free'))
    const wrapper = await mountPage()
    billingApi.createSubscription.mockResolvedValue({ client_secret: 'pi_1_secret_x', premium: false })
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await wrapper.get('[data-test="purchase-button"]').trigger('click')
    for (let i = 0; i < 5; i++) await flush()
    expect(useAccountStore().isPremium).toBe(true)
    expect(wrapper.find('[data-test="purchase-success"]').exists()).toBe(true)
    expect(wrapper.find('[data-test="after-purchase"]').exists()).toBe(true)
  })

  it('tells a premium visitor they already have it', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const wrapper = await mountPage()
    expect(wrapper.find('[data-test="already-premium"]').text()).toContain('Premium until 26 Dec 2026')
    expect(wrapper.find('[data-test="purchase-button"]').exists()).toBe(false)
    expect(fake.stripe.load).not.toHaveBeenCalled() // no card taken here: no Stripe.js
  })

  it('back from a redirect, finishes the purchase even if a webhook made the account premium first', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    const wrapper = await mountPage(
      '/premium?payment_intent=pi_1&payment_intent_client_secret=pi_1_secret_abc&redirect_status=succeeded',
    )
    expect(wrapper.find('[data-test="already-premium"]').exists()).toBe(false)
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(wrapper.find('[data-test="purchase-success"]').text()).toContain('You are Premium now')
    expect(wrapper.find('[data-test="after-purchase"]').exists()).toBe(true)
  })
})
