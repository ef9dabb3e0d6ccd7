// The banner every page shows (MainLayout) while the status object has a payment_problem.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, flush, httpError, invoiceObject, paymentProblem, statusObject } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/auth', () => ({ logout: vi.fn(async () => {}) }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { default: MainLayout } = await import('@/layouts/MainLayout.vue')

// QLayout watches its size; jsdom has no ResizeObserver (nothing here depends on sizes).
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
}

const page = { render: () => null }
let wrapper
let router

async function mountLayout(path = '/filers') {
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      {
        path: '/',
        component: MainLayout,
        children: [
          { path: '', name: 'home', component: page },
          { path: 'filers', name: 'filers', component: page },
          { path: 'account', name: 'account', component: page },
          { path: 'account/confirm-payment', name: 'confirm-payment', component: page },
          { path: 'login', name: 'login', component: page },
        ],
      },
    ],
  })
  const pinia = createPinia()
  setActivePinia(pinia)
  await useAccountStore().refresh()
  await router.push(path)
  wrapper = mount(
    { template: '<router-view />' },
    { global: { plugins: [pinia, router] }, attachTo: document.body },
  )
  for (let i = 0; i < 4; i++) await flush()
  return wrapper
}

const problemAccount = (kind, extra = {}) =>
  accountPayload('premium', {
    subscription: statusObject('past_due', { premium: true, payment_problem: paymentProblem(kind, extra) }),
  })
const banner = () => wrapper.find('[data-test="payment-problem-banner"]')

beforeEach(() => {
  vi.clearAllMocks()
  billingApi.fetchInvoices.mockResolvedValue({
    results: [invoiceObject('in_open', { status: 'open', created: '2026-11-26T10:00:00Z' })],
    has_more: false,
  })
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  document.body.innerHTML = ''
})

describe('PaymentProblemBanner in MainLayout', () => {
  it('is not there without a payment problem (and asks for no invoices)', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await mountLayout()
    expect(banner().exists()).toBe(false)
    expect(billingApi.fetchInvoices).not.toHaveBeenCalled()
  })

  it('payment_failed: amount and the day it failed, with a button to the card section', async () => {
    fetchAccount.mockResolvedValue(problemAccount('payment_failed'))
    await mountLayout()
    expect(banner().attributes('data-kind')).toBe('payment_failed')
    expect(banner().attributes('role')).toBe('alert')
    expect(wrapper.get('[data-test="payment-problem-text"]').text()).toBe(
      'Your payment of $20.00 failed on 26 Nov 2026 — update your card to keep Premium',
    )
    const action = wrapper.get('[data-test="payment-problem-action"]')
    expect(action.attributes('href')).toBe('/account#card')
    await action.trigger('click')
    await flush()
    expect(router.currentRoute.value.fullPath).toBe('/account#card')
    // Shown on the account page too (the button jumps to the card).
    expect(banner().exists()).toBe(true)
  })

  it('payment_failed without the invoice’s date still says what failed', async () => {
    fetchAccount.mockResolvedValue(problemAccount('payment_failed'))
    billingApi.fetchInvoices.mockRejectedValue(httpError(503, {}))
    await mountLayout()
    expect(wrapper.get('[data-test="payment-problem-text"]').text()).toBe(
      'Your payment of $20.00 failed — update your card to keep Premium',
    )
  })

  it('action_required: the renewal needs confirming, the button goes to the confirmation page', async () => {
    fetchAccount.mockResolvedValue(problemAccount('action_required'))
    await mountLayout()
    expect(banner().attributes('data-kind')).toBe('action_required')
    expect(wrapper.get('[data-test="payment-problem-text"]').text()).toBe(
      'Your renewal of $20.00 needs your confirmation',
    )
    expect(wrapper.get('[data-test="payment-problem-action"]').attributes('href')).toBe(
      '/account/confirm-payment?invoice=in_open',
    )
    expect(billingApi.fetchInvoices).not.toHaveBeenCalled()
  })

  it('on the confirmation page itself: the banner without a button to where one is', async () => {
    fetchAccount.mockResolvedValue(problemAccount('action_required'))
    await mountLayout('/account/confirm-payment?invoice=in_open')
    expect(banner().exists()).toBe(true)
    expect(wrapper.find('[data-test="payment-problem-action"]').exists()).toBe(false)
  })

  it('goes away as soon as the status object has no problem (paid)', async () => {
    fetchAccount.mockResolvedValue(problemAccount('payment_failed'))
    await mountLayout()
    expect(banner().exists()).toBe(true)
    useAccountStore().setSubscription(statusObject('active', { payment_problem: null }))
    await flush()
    expect(banner().exists()).toBe(false)
  })
})
