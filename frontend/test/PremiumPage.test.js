import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, CONFIG, flush, PlainPage, statusObject } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))
const card = { mount: vi.fn(), on: vi.fn(), destroy: vi.fn() }
const fakeStripe = {
  elements: () => ({ create: () => card }),
  confirmCardPayment: vi.fn(async () => ({ paymentIntent: { status: 'succeeded' } })),
}
vi.mock('@/api/stripeJs', () => ({ loadStripeFromConfig: vi.fn(async () => fakeStripe) }))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: PremiumPage } = await import('@/pages/PremiumPage.vue')

async function mountPage() {
  const page = { render: () => null }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/premium', component: PremiumPage },
      { path: '/:rest(.*)*', name: 'account', component: page },
    ],
  })
  await router.push('/premium')
  const pinia = createPinia()
  setActivePinia(pinia)
  await useAccountStore().refresh()
  const wrapper = mount(PremiumPage, { global: { plugins: [pinia, router], stubs: { QPage: PlainPage } } })
  await flush()
  await flush()
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
  })
})
