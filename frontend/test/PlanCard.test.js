// The plan on the account page (issue 15): PlanCard.vue + usePlanChange(). Monthly → yearly with the
// preview (lines, amount due now) confirmed in a dialog, the change made with the preview's
// proration_date, the prorated invoice listed, 3-D Secure through handleNextAction then sync, a
// decline; yearly → monthly scheduled ("Changes to monthly on …", Keep yearly); no switching while
// trialing, cancelling or past due. With a fake Stripe (mocks/fakeStripe.js).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import {
  MONTHLY,
  PLANS_CONFIG,
  PlainPage,
  YEARLY,
  accountPayload,
  cardObject,
  flush,
  httpError,
  invoiceObject,
  statusObject,
} from './helpers'
import { fakeStripe } from './mocks/fakeStripe.js'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { useBillingStore } = await import('@/stores/billing')
const { default: PlanCard } = await import('@/components/PlanCard.vue')
const { default: AccountPage } = await import('@/pages/AccountPage.vue')

const YEAR_END = '2027-12-01T21:00:00Z'
const monthlyStatus = (extra = {}) => statusObject('active', { price: MONTHLY, interval: 'month', ...extra })
const yearlyStatus = (extra = {}) =>
  statusObject('active', {
    price: YEARLY,
    interval: 'year',
    current_period_end: YEAR_END,
    premium_until: YEAR_END,
    ...extra,
  })
const SCHEDULED = { price: MONTHLY, interval: 'month', effective_at: YEAR_END }

const PREVIEW_NOW = {
  price: YEARLY,
  timing: 'now',
  effective_at: '2026-12-01T21:00:00Z',
  amount_due: 18710,
  currency: 'usd',
  proration_date: 1796159000,
  lines: [
    { description: 'Unused time on Premium after 01 Dec 2026', amount: -1290, proration: true },
    { description: '1 × Premium (at $200.00 / year)', amount: 20000, proration: false },
  ],
}
const PREVIEW_LATER = {
  price: MONTHLY,
  timing: 'period_end',
  effective_at: YEAR_END,
  amount_due: 2000,
  currency: 'usd',
  proration_date: 1796159000,
  lines: [{ description: '1 × Premium (at $20.00 / month)', amount: 2000, proration: false }],
}
const PRORATED = invoiceObject('in_prorated', { amount_due: 18710, amount_paid: 18710 })

let pinia
let router

async function mountCard(status, { fake = fakeStripe(), component = PlanCard, stubs = {} } = {}) {
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/account', name: 'account', component: { render: () => null } },
      { path: '/:rest(.*)*', component: { render: () => null } },
    ],
  })
  await router.push('/account')
  pinia = createPinia()
  setActivePinia(pinia)
  fetchAccount.mockResolvedValue(accountPayload('premium', { subscription: status }))
  billingApi.fetchSubscription.mockResolvedValue(status)
  await useAccountStore().refresh()
  await useBillingStore().loadConfig()
  const wrapper = mount(component, {
    props: { loadStripe: fake.load },
    global: { plugins: [pinia, router], stubs },
    attachTo: document.body,
  })
  await settle()
  return { wrapper, fake }
}

const settle = async (n = 8) => {
  for (let i = 0; i < n; i++) await flush()
}
const inBody = (test) => document.body.querySelector(`[data-test="${test}"]`)
const allInBody = (test) => [...document.body.querySelectorAll(`[data-test="${test}"]`)]

beforeEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
  billingApi.fetchStripeConfig.mockResolvedValue(PLANS_CONFIG)
  billingApi.fetchInvoices.mockResolvedValue({ results: [invoiceObject('in_1')], has_more: false })
  billingApi.fetchPaymentMethod.mockResolvedValue({ payment_method: cardObject() })
})

afterEach(() => {
  document.body.innerHTML = ''
})

describe('monthly → yearly', () => {
  it('shows the plan and offers the yearly one', async () => {
    const { wrapper } = await mountCard(monthlyStatus())
    expect(wrapper.get('[data-test="plan-current"]').text()).toBe('Monthly plan: USD 20.00/month')
    expect(wrapper.get('[data-test="switch-plan"]').text()).toBe('Switch to yearly')
    expect(wrapper.get('[data-test="plan-offer"]').text()).toContain('USD 200.00/year')
  })

  it('preview → what is charged now, line by line → confirm with its proration_date → invoice listed', async () => {
    billingApi.previewPlanChange.mockResolvedValue(PREVIEW_NOW)
    const { wrapper, fake } = await mountCard(monthlyStatus())
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    expect(billingApi.previewPlanChange).toHaveBeenCalledExactlyOnceWith('opensecdata_premium_yearly')
    const dialog = inBody('plan-preview-dialog')
    expect(dialog).not.toBeNull()
    expect(document.getElementById('plan-preview-title').textContent).toBe('Switch to yearly?')
    expect(inBody('plan-preview-summary').textContent).toBe(
      'You are charged USD 187.10 now, and your yearly plan (USD 200.00/year) starts today.',
    )
    const cells = (row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent.trim())
    expect(allInBody('plan-preview-line').map(cells)).toEqual([
      ['Unused time on Premium after 01 Dec 2026', '-USD 12.90'],
      ['1 × Premium (at $200.00 / year)', 'USD 200.00'],
    ])
    expect(inBody('plan-preview-amount').textContent.trim()).toBe('USD 187.10')
    expect(inBody('plan-confirm').textContent).toContain('Pay USD 187.10 and switch')

    const after = yearlyStatus()
    billingApi.changePlan.mockResolvedValue({ subscription: after, invoice: PRORATED })
    billingApi.fetchInvoices.mockResolvedValue({
      results: [PRORATED, invoiceObject('in_1')],
      has_more: false,
    })
    inBody('plan-confirm').click()
    await settle()
    expect(billingApi.changePlan).toHaveBeenCalledExactlyOnceWith({
      price: 'opensecdata_premium_yearly',
      prorationDate: 1796159000,
    })
    expect(fake.stripe.handleNextAction).not.toHaveBeenCalled()
    expect(billingApi.fetchInvoices).toHaveBeenCalled()
    expect(useBillingStore().invoices.map((invoice) => invoice.id)).toEqual(['in_prorated', 'in_1'])
    expect(useAccountStore().subscription.interval).toBe('year')
    expect(wrapper.get('[data-test="plan-notice"]').text()).toBe(
      'You are on the yearly plan now. USD 187.10 was charged.',
    )
    expect(wrapper.get('[data-test="plan-current"]').text()).toBe('Yearly plan: USD 200.00/year')
    expect(inBody('plan-preview-dialog')).toBeNull()
  })

  it('a charge the bank wants to confirm: handleNextAction with the invoice secret, then sync', async () => {
    billingApi.previewPlanChange.mockResolvedValue(PREVIEW_NOW)
    const { wrapper, fake } = await mountCard(monthlyStatus())
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    billingApi.changePlan.mockResolvedValue({
      subscription: monthlyStatus(),
      invoice: { ...PRORATED, status: 'open', amount_paid: 0, client_secret: 'pi_9_secret_x' },
    })
    billingApi.syncSubscription.mockResolvedValue(yearlyStatus())
    fetchAccount.mockResolvedValue(accountPayload('premium', { subscription: yearlyStatus() }))
    billingApi.fetchInvoices.mockResolvedValue({ results: [PRORATED], has_more: false })
    inBody('plan-confirm').click()
    await settle(12)
    expect(fake.load).toHaveBeenCalledWith(PLANS_CONFIG)
    expect(fake.stripe.handleNextAction).toHaveBeenCalledExactlyOnceWith({ clientSecret: 'pi_9_secret_x' })
    expect(billingApi.syncSubscription).toHaveBeenCalledOnce()
    expect(wrapper.get('[data-test="plan-notice"]').text()).toBe(
      'You are on the yearly plan now. USD 187.10 was charged.',
    )
    expect(wrapper.get('[data-test="plan-current"]').text()).toBe('Yearly plan: USD 200.00/year')
  })

  it("3-D Secure failed: Stripe's sentence, still monthly", async () => {
    billingApi.previewPlanChange.mockResolvedValue(PREVIEW_NOW)
    const fake = fakeStripe({
      nextActionResult: {
        error: { type: 'card_error', message: 'We are unable to authenticate your payment method.' },
      },
    })
    const { wrapper } = await mountCard(monthlyStatus(), { fake })
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    billingApi.changePlan.mockResolvedValue({
      subscription: monthlyStatus(),
      invoice: { ...PRORATED, status: 'open', amount_paid: 0, client_secret: 'pi_9_secret_x' },
    })
    billingApi.syncSubscription.mockResolvedValue(monthlyStatus())
    inBody('plan-confirm').click()
    await settle(12)
    const error = wrapper.get('[data-test="plan-error"]')
    expect(error.text()).toBe('We are unable to authenticate your payment method.')
    expect(error.attributes('role')).toBe('alert')
    expect(wrapper.find('[data-test="plan-notice"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="plan-current"]').text()).toBe('Monthly plan: USD 20.00/month')
  })

  it("a declined card (402): Stripe's sentence in the dialog, nothing changed", async () => {
    billingApi.previewPlanChange.mockResolvedValue(PREVIEW_NOW)
    const { wrapper } = await mountCard(monthlyStatus())
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    billingApi.changePlan.mockRejectedValue(
      httpError(402, { detail: 'Your card was declined.', code: 'card_declined' }),
    )
    inBody('plan-confirm').click()
    await settle()
    expect(inBody('plan-preview-error').textContent.trim()).toBe('Your card was declined.')
    expect(inBody('plan-preview-error').getAttribute('role')).toBe('alert')
    expect(useAccountStore().subscription.interval).toBe('month')
    expect(wrapper.find('[data-test="plan-notice"]').exists()).toBe(false)
    // Not now closes it; the card is as before.
    inBody('plan-preview-cancel').click()
    await settle()
    expect(inBody('plan-preview-dialog')).toBeNull()
  })

  it('the server refuses the preview (409): its sentence, and the status is read again', async () => {
    billingApi.previewPlanChange.mockRejectedValue(
      httpError(409, { detail: 'Resume your subscription first.', code: 'not_changeable' }),
    )
    const { wrapper } = await mountCard(monthlyStatus())
    billingApi.fetchSubscription.mockResolvedValue(
      statusObject('cancelling', { price: MONTHLY, interval: 'month' }),
    )
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    expect(wrapper.get('[data-test="plan-error"]').text()).toBe('Resume your subscription first.')
    expect(billingApi.fetchSubscription).toHaveBeenCalled()
    expect(inBody('plan-preview-dialog')).toBeNull()
    expect(wrapper.get('[data-test="switch-plan"]').attributes('disabled')).toBeDefined()
  })
})

describe('yearly → monthly', () => {
  it('is scheduled for the end of the paid year: nothing charged now', async () => {
    billingApi.previewPlanChange.mockResolvedValue(PREVIEW_LATER)
    const { wrapper } = await mountCard(yearlyStatus())
    expect(wrapper.get('[data-test="switch-plan"]').text()).toBe('Switch to monthly')
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    expect(billingApi.previewPlanChange).toHaveBeenCalledWith('opensecdata_premium_monthly')
    expect(inBody('plan-preview-summary').textContent).toBe(
      'Nothing is charged now. Your plan changes to monthly on 1 Dec 2027; from then you pay USD 20.00/month.',
    )
    expect(inBody('plan-confirm').textContent).toContain('Switch on 1 Dec 2027')

    billingApi.changePlan.mockResolvedValue({
      subscription: yearlyStatus({ scheduled_change: SCHEDULED }),
      invoice: null,
    })
    inBody('plan-confirm').click()
    await settle()
    expect(billingApi.changePlan).toHaveBeenCalledExactlyOnceWith({
      price: 'opensecdata_premium_monthly',
      prorationDate: undefined,
    })
    expect(wrapper.get('[data-test="plan-scheduled"]').text()).toBe(
      'Changes to monthly on 1 Dec 2027 (USD 20.00/month from then).',
    )
    expect(wrapper.get('[data-test="plan-notice"]').text()).toBe(
      'Your plan changes to monthly on 1 Dec 2027.',
    )
    expect(wrapper.find('[data-test="switch-plan"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="keep-plan"]').text()).toBe('Keep yearly')
  })

  it('Keep yearly calls the scheduled change off', async () => {
    const { wrapper } = await mountCard(yearlyStatus({ scheduled_change: SCHEDULED }))
    billingApi.cancelPlanChange.mockResolvedValue(yearlyStatus({ scheduled_change: null }))
    await wrapper.get('[data-test="keep-plan"]').trigger('click')
    await settle()
    expect(billingApi.cancelPlanChange).toHaveBeenCalledOnce()
    expect(wrapper.find('[data-test="plan-scheduled"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="plan-notice"]').text()).toBe('You stay on the yearly plan.')
    expect(wrapper.get('[data-test="switch-plan"]').text()).toBe('Switch to monthly')
  })

  it("nothing to call off (409): the server's sentence", async () => {
    const { wrapper } = await mountCard(yearlyStatus({ scheduled_change: SCHEDULED }))
    billingApi.cancelPlanChange.mockRejectedValue(
      httpError(409, { detail: 'No plan change is scheduled.', code: 'no_scheduled_change' }),
    )
    billingApi.fetchSubscription.mockResolvedValue(yearlyStatus())
    await wrapper.get('[data-test="keep-plan"]').trigger('click')
    await settle()
    expect(wrapper.get('[data-test="plan-error"]').text()).toBe('No plan change is scheduled.')
    expect(wrapper.find('[data-test="plan-scheduled"]').exists()).toBe(false)
  })
})

describe('no switching', () => {
  it.each([
    [
      'during the trial',
      monthlyStatus({ stripe_status: 'trialing', trial_end: '2026-12-08T21:00:00Z' }),
      'You can change plans once the trial has ended.',
    ],
    [
      'while cancelling',
      statusObject('cancelling', { price: MONTHLY, interval: 'month' }),
      'Resume your subscription first.',
    ],
    [
      'while past due',
      statusObject('past_due', { premium: true, price: MONTHLY, interval: 'month' }),
      'Pay the open invoice first, then change plans.',
    ],
  ])('%s: the button is disabled and says why', async (_, status, sentence) => {
    const { wrapper } = await mountCard(status)
    expect(wrapper.get('[data-test="plan-blocked"]').text()).toBe(sentence)
    expect(wrapper.get('[data-test="switch-plan"]').attributes('disabled')).toBeDefined()
    await wrapper.get('[data-test="switch-plan"]').trigger('click')
    await settle()
    expect(billingApi.previewPlanChange).not.toHaveBeenCalled()
  })

  it('a trial shows until when and what then', async () => {
    const { wrapper } = await mountCard(
      monthlyStatus({ stripe_status: 'trialing', trial_end: '2026-12-08T21:00:00Z' }),
    )
    expect(wrapper.get('[data-test="plan-current"]').text()).toBe(
      'Free trial until 8 Dec 2026, then USD 20.00/month; cancel before and pay nothing',
    )
  })

  it('without a plan (no subscription, or an older server) the card is not shown', async () => {
    const { wrapper } = await mountCard(statusObject('none'))
    expect(wrapper.find('[data-test="plan"]').exists()).toBe(false)
  })
})

describe('on the account page', () => {
  it('the plan card sits under the subscription, a trial reads as one, and cancelling it says nothing is charged', async () => {
    const trialing = monthlyStatus({ stripe_status: 'trialing', trial_end: '2026-12-08T21:00:00Z' })
    const { wrapper } = await mountCard(trialing, {
      component: AccountPage,
      stubs: { QPage: PlainPage, ApiTokens: true },
    })
    expect(wrapper.get('[data-test="subscription-headline"]').text()).toBe('Free trial until 8 Dec 2026')
    expect(wrapper.get('[data-test="plan-current"]').text()).toContain('Free trial until 8 Dec 2026')
    await wrapper.get('[data-test="cancel-subscription"]').trigger('click')
    await flush()
    expect(inBody('cancel-dialog-text').textContent).toContain('nothing is charged')
  })
})
