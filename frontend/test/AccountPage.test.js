import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, flush, httpError, PlainPage, statusObject } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { default: AccountPage } = await import('@/pages/AccountPage.vue')

async function mountPage() {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/:rest(.*)*', component: { render: () => null } }],
  })
  await router.push('/account')
  const pinia = createPinia()
  setActivePinia(pinia)
  const wrapper = mount(AccountPage, {
    global: { plugins: [pinia, router], stubs: { QPage: PlainPage, ApiTokens: true } },
    attachTo: document.body,
  })
  await flush()
  await flush()
  return wrapper
}

const inDialog = (test) => document.body.querySelector(`[data-test="${test}"]`)

beforeEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
  fetchAccount.mockResolvedValue(accountPayload('premium'))
  billingApi.fetchSubscription.mockResolvedValue(statusObject('active'))
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
