// The billing store after the purchase: the card on file, invoices (paged, found by id, updated when
// paid), the portal, and forgetting all of it when someone else signs in. HTTP is the mocked api module.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { accountPayload, cardObject, CONFIG, httpError, invoiceObject, statusObject } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/auth', () => ({ logout: vi.fn(async () => {}) }))
vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))

const { fetchAccount } = await import('@/api/account')
const billingApi = await import('@/api/billing')
const { useAccountStore } = await import('@/stores/account')
const { useBillingStore, FIND_INVOICE_PAGES } = await import('@/stores/billing')

const page = (ids, hasMore = false, extra = {}) => ({
  results: ids.map((id) => invoiceObject(id, extra)),
  has_more: hasMore,
})

beforeEach(async () => {
  setActivePinia(createPinia())
  vi.clearAllMocks()
  fetchAccount.mockResolvedValue(accountPayload('premium'))
  await useAccountStore().refresh()
})

describe('useBillingStore after the purchase', () => {
  it('reads the card on file, or none', async () => {
    const billing = useBillingStore()
    expect(billing.paymentMethodLoaded).toBe(false)
    billingApi.fetchPaymentMethod.mockResolvedValueOnce({ payment_method: cardObject() })
    expect(await billing.loadPaymentMethod()).toEqual(cardObject())
    expect(billing.paymentMethodLoaded).toBe(true)
    billingApi.fetchPaymentMethod.mockResolvedValueOnce({ payment_method: null })
    expect(await billing.loadPaymentMethod()).toBeNull()
    expect(billing.paymentMethod).toBeNull()
  })

  it('saves a new card; a refused one leaves the old card', async () => {
    const billing = useBillingStore()
    billingApi.fetchPaymentMethod.mockResolvedValue({ payment_method: cardObject() })
    await billing.loadPaymentMethod()
    billingApi.updatePaymentMethod.mockRejectedValueOnce(
      httpError(402, { detail: 'Your card was declined.' }),
    )
    await expect(billing.savePaymentMethod('pm_bad')).rejects.toThrow()
    expect(billing.paymentMethod.last4).toBe('4242')

    const mastercard = cardObject({ id: 'pm_2', brand: 'mastercard', last4: '4444' })
    billingApi.updatePaymentMethod.mockResolvedValueOnce({ payment_method: mastercard })
    expect(await billing.savePaymentMethod('pm_2')).toEqual({ payment_method: mastercard })
    expect(billingApi.updatePaymentMethod).toHaveBeenLastCalledWith('pm_2')
    expect(billing.paymentMethod).toEqual(mastercard)
  })

  it('pages through invoices with starting_after and lists none twice', async () => {
    const billing = useBillingStore()
    billingApi.fetchInvoices.mockResolvedValueOnce(page(['in_3', 'in_2'], true))
    await billing.loadInvoices()
    expect(billingApi.fetchInvoices).toHaveBeenLastCalledWith({})
    expect(billing.invoicesHasMore).toBe(true)
    // A new invoice meanwhile shifts the list: in_2 comes again on the next page.
    billingApi.fetchInvoices.mockResolvedValueOnce(page(['in_2', 'in_1'], false))
    await billing.loadInvoices({ more: true })
    expect(billingApi.fetchInvoices).toHaveBeenLastCalledWith({ startingAfter: 'in_2' })
    expect(billing.invoices.map((i) => i.id)).toEqual(['in_3', 'in_2', 'in_1'])
    expect(billing.invoicesHasMore).toBe(false)
    // Reading the first page again starts over.
    billingApi.fetchInvoices.mockResolvedValueOnce(page(['in_4'], true))
    await billing.loadInvoices()
    expect(billing.invoices.map((i) => i.id)).toEqual(['in_4'])
  })

  it('finds an invoice by id through the pages, once, and says null when it is not the caller’s', async () => {
    const billing = useBillingStore()
    billingApi.fetchInvoices
      .mockResolvedValueOnce(page(['in_5', 'in_4'], true))
      .mockResolvedValueOnce(page(['in_3', 'in_2'], true))
    const found = await billing.findInvoice('in_2')
    expect(found.id).toBe('in_2')
    expect(billingApi.fetchInvoices.mock.calls).toEqual([[{}], [{ startingAfter: 'in_4' }]])
    expect(await billing.findInvoice('in_2')).toBe(found)
    expect(billingApi.fetchInvoices).toHaveBeenCalledTimes(2)

    billingApi.fetchInvoices.mockReset()
    billingApi.fetchInvoices.mockResolvedValueOnce(page(['in_5'], false))
    expect(await billing.findInvoice('in_someone_elses')).toBeNull()
  })

  it('stops looking after a bounded number of pages', async () => {
    const billing = useBillingStore()
    let n = 0
    billingApi.fetchInvoices.mockImplementation(async () => page([`in_p${n++}`], true))
    expect(await billing.findInvoice('in_never')).toBeNull()
    expect(billingApi.fetchInvoices).toHaveBeenCalledTimes(FIND_INVOICE_PAGES)
  })

  it('asks again after a failed search instead of remembering the failure', async () => {
    const billing = useBillingStore()
    billingApi.fetchInvoices.mockRejectedValueOnce(httpError(503, {}))
    await expect(billing.findInvoice('in_1')).rejects.toThrow()
    billingApi.fetchInvoices.mockResolvedValueOnce(page(['in_1']))
    expect((await billing.findInvoice('in_1')).id).toBe('in_1')
  })

  it('a paid invoice replaces the open one in the list', async () => {
    const billing = useBillingStore()
    billingApi.fetchInvoices.mockResolvedValueOnce({
      results: [invoiceObject('in_open', { status: 'open', amount_paid: 0 }), invoiceObject('in_1')],
      has_more: false,
    })
    await billing.loadInvoices()
    billingApi.payInvoice.mockResolvedValueOnce(invoiceObject('in_open'))
    await billing.payInvoice('in_open')
    expect(billingApi.payInvoice).toHaveBeenCalledWith('in_open')
    expect(billing.invoices.map((i) => [i.id, i.status])).toEqual([
      ['in_open', 'paid'],
      ['in_1', 'paid'],
    ])
  })

  it('offers the portal only when the config says so, and asks the server for its URL', async () => {
    const billing = useBillingStore()
    billingApi.fetchStripeConfig.mockResolvedValueOnce({ ...CONFIG, portal: false })
    await billing.loadConfig()
    expect(billing.portalEnabled).toBe(false)
    billing.config = { ...CONFIG, portal: true }
    expect(billing.portalEnabled).toBe(true)
    billingApi.createPortalSession.mockResolvedValueOnce({ url: 'https://billing.example/session/1' })
    expect(await billing.portalUrl()).toBe('https://billing.example/session/1')
  })

  it('syncAfterPayment falls back to the stored status when sync fails', async () => {
    const billing = useBillingStore()
    billingApi.syncSubscription.mockRejectedValueOnce(httpError(503, { detail: 'Stripe is down.' }))
    fetchAccount.mockResolvedValueOnce(accountPayload('premium'))
    expect(await billing.syncAfterPayment()).toEqual(statusObject('active'))
    expect(fetchAccount).toHaveBeenCalledTimes(2)
  })

  it("forgets the card and invoices of whoever signs out (they are not the next user's)", async () => {
    const billing = useBillingStore()
    billingApi.fetchPaymentMethod.mockResolvedValue({ payment_method: cardObject() })
    billingApi.fetchInvoices.mockResolvedValue(page(['in_1']))
    await billing.loadPaymentMethod()
    await billing.loadInvoices()
    await billing.findInvoice('in_1')
    await useAccountStore().logout()
    await Promise.resolve()
    expect(billing.paymentMethod).toBeNull()
    expect(billing.paymentMethodLoaded).toBe(false)
    expect(billing.invoices).toEqual([])
    // Found invoices are forgotten too: the next user's search asks the server.
    fetchAccount.mockResolvedValueOnce(accountPayload('free', { id: 2 }))
    await useAccountStore().refresh()
    billingApi.fetchInvoices.mockResolvedValueOnce(page([]))
    expect(await billing.findInvoice('in_1')).toBeNull()
  })
})
