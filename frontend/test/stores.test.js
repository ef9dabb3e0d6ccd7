import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { accountPayload, CONFIG, httpError, statusObject } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/auth', () => ({ logout: vi.fn(async () => {}) }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { useBillingStore } = await import('@/stores/billing')
const { useQuotaStore } = await import('@/stores/quota')

beforeEach(() => {
  setActivePinia(createPinia())
  vi.clearAllMocks()
})

describe('useAccountStore', () => {
  it('is a guest when the server answers 401', async () => {
    fetchAccount.mockRejectedValue(httpError(401, { detail: 'Not signed in.' }))
    const account = useAccountStore()
    await account.ensureLoaded()
    expect(account.tier).toBe('guest')
    expect(account.isSignedIn).toBe(false)
    expect(account.loaded).toBe(true)
  })

  it('takes the tier from GET /api/account/', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const account = useAccountStore()
    await account.refresh()
    expect(account.tier).toBe('premium')
    expect(account.isPremium).toBe(true)
    expect(account.usage.limit).toBeNull()
  })

  it('shares one request between concurrent callers and loads once', async () => {
    fetchAccount.mockResolvedValue(accountPayload('free'))
    const account = useAccountStore()
    await Promise.all([account.ensureLoaded(), account.ensureLoaded(), account.refresh()])
    await account.ensureLoaded()
    expect(fetchAccount).toHaveBeenCalledTimes(1)
    expect(account.tier).toBe('free')
  })

  it('keeps the user on a server error and says why', async () => {
    fetchAccount.mockResolvedValueOnce(accountPayload('free'))
    const account = useAccountStore()
    await account.refresh()
    fetchAccount.mockRejectedValueOnce(httpError(503, { detail: 'Down for maintenance.' }))
    await account.refresh()
    expect(account.tier).toBe('free')
    expect(account.error).toBe('Down for maintenance.')
  })

  it('asks again after a failed first load instead of taking a signed-in user for a guest', async () => {
    fetchAccount.mockRejectedValueOnce(httpError(503, { detail: 'Down for maintenance.' }))
    const account = useAccountStore()
    await account.ensureLoaded()
    expect(account.loaded).toBe(false)
    expect(account.error).toBe('Down for maintenance.')
    fetchAccount.mockResolvedValueOnce(accountPayload('free'))
    await account.ensureLoaded()
    expect(fetchAccount).toHaveBeenCalledTimes(2)
    expect(account.tier).toBe('free')
    expect(account.error).toBeNull()
    await account.ensureLoaded()
    expect(fetchAccount).toHaveBeenCalledTimes(2)
  })

  it('forgets the quota and the subscription status of whoever signs out', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const account = useAccountStore()
    await account.refresh()
    const quota = useQuotaStore()
    quota.fromHeaders({ 'x-ratelimit-limit': 'unlimited' })
    billingApi.fetchSubscription.mockResolvedValue(statusObject('active'))
    const billing = useBillingStore()
    await billing.fetchStatus()
    expect(quota.label).toBe('Requests today: unlimited')
    expect(account.subscription.state).toBe('active')

    await account.logout()
    expect(account.tier).toBe('guest')
    expect(quota.known).toBe(false)
    expect(quota.label).toBe('')
    expect(account.subscription).toBeNull()
  })

  it("forgets the free tier's quota once a purchase makes the account premium", async () => {
    fetchAccount.mockResolvedValue(accountPayload('free'))
    const account = useAccountStore()
    await account.refresh()
    const quota = useQuotaStore()
    quota.fromHeaders({ 'x-ratelimit-limit': '200', 'x-ratelimit-remaining': '0' }, { status: 429 })
    expect(quota.exceeded).toBe(true)
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    await useBillingStore().sync()
    expect(account.isPremium).toBe(true)
    expect(quota.exceeded).toBe(false)
    expect(quota.known).toBe(false)
  })

  it('becomes a guest after sign-out', async () => {
    fetchAccount.mockResolvedValue(accountPayload('free'))
    const account = useAccountStore()
    await account.refresh()
    await account.logout()
    expect(account.tier).toBe('guest')
  })
})

describe('useBillingStore', () => {
  it('loads the config once and spells the price', async () => {
    billingApi.fetchStripeConfig.mockResolvedValue(CONFIG)
    const billing = useBillingStore()
    await Promise.all([billing.loadConfig(), billing.loadConfig()])
    await billing.loadConfig()
    expect(billingApi.fetchStripeConfig).toHaveBeenCalledTimes(1)
    expect(billing.priceLabel).toBe('USD 20.00 per month')
  })

  it('sync makes the account premium and re-reads it', async () => {
    fetchAccount.mockResolvedValueOnce(accountPayload('free'))
    const account = useAccountStore()
    await account.refresh()
    billingApi.syncSubscription.mockResolvedValue(statusObject('active'))
    fetchAccount.mockResolvedValueOnce(accountPayload('premium'))
    const billing = useBillingStore()
    const status = await billing.sync()
    expect(status.premium).toBe(true)
    expect(account.isPremium).toBe(true)
    expect(fetchAccount).toHaveBeenCalledTimes(2)
  })

  it('cancel sends at_period_end and keeps premium while cancelling', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium'))
    const account = useAccountStore()
    await account.refresh()
    billingApi.cancelSubscription.mockResolvedValue(statusObject('cancelling'))
    const billing = useBillingStore()
    await billing.cancel()
    expect(billingApi.cancelSubscription).toHaveBeenCalledWith({ atPeriodEnd: true })
    expect(account.subscription.state).toBe('cancelling')
    expect(account.isPremium).toBe(true)
  })

  it('resume returns to active', async () => {
    fetchAccount.mockResolvedValue(accountPayload('premium', { subscription: statusObject('cancelling') }))
    const account = useAccountStore()
    await account.refresh()
    billingApi.resumeSubscription.mockResolvedValue(statusObject('active'))
    const status = await useBillingStore().resume()
    expect(status.state).toBe('active')
    expect(account.subscription.state).toBe('active')
  })

  it('keeps no status of its own: the account holds the one subscription status', async () => {
    fetchAccount.mockResolvedValue(accountPayload('free'))
    const account = useAccountStore()
    await account.refresh()
    expect(account.subscription.state).toBe('none')
    const billing = useBillingStore()
    expect(billing).not.toHaveProperty('status')

    // A status that turns premium (e.g. a webhook got there first) lifts the tier as well.
    billingApi.fetchSubscription.mockResolvedValue(statusObject('active'))
    await billing.fetchStatus()
    expect(account.subscription.state).toBe('active')
    expect(account.tier).toBe('premium')

    // The next account payload is the word again.
    fetchAccount.mockResolvedValue(accountPayload('free', { subscription: statusObject('past_due') }))
    await account.refresh()
    expect(account.subscription.state).toBe('past_due')
    expect(account.tier).toBe('free')
  })
})

describe('useQuotaStore', () => {
  const response = (status, headers, url = '/api/filers/', data = {}) => ({
    status,
    headers,
    data,
    config: { url },
  })

  it('reads limit and remaining from the rate-limit headers', () => {
    const quota = useQuotaStore()
    quota.fromResponse(response(200, { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '15' }))
    expect(quota.limit).toBe(20)
    expect(quota.remaining).toBe(15)
    expect(quota.used).toBe(5)
    expect(quota.ratioUsed).toBe(0.25)
    expect(quota.label).toBe('15 of 20 requests left today')
  })

  it('is unlimited for premium answers (no headers, or "unlimited")', () => {
    const quota = useQuotaStore()
    quota.fromResponse(response(200, {}, '/api/filers/123/'))
    expect(quota.unlimited).toBe(true)
    expect(quota.label).toBe('Requests today: unlimited')
    quota.fromResponse(response(200, { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '1' }))
    quota.fromResponse(response(200, { 'x-ratelimit-limit': 'unlimited' }))
    expect(quota.unlimited).toBe(true)
  })

  it('keeps the 429 sentence', () => {
    const quota = useQuotaStore()
    quota.fromResponse(
      response(429, { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0' }, '/api/filers/', {
        detail: 'Daily quota used up. Premium lifts the limit.',
      }),
    )
    expect(quota.exceeded).toBe(true)
    expect(quota.message).toBe('Daily quota used up. Premium lifts the limit.')
  })

  it('ignores non-data answers', () => {
    const quota = useQuotaStore()
    quota.fromResponse(response(200, {}, '/api/account/'))
    expect(quota.known).toBe(false)
  })
})
