// Stripe config (price, publishable key, Stripe.js URL, portal) and the subscription actions, and after
// the purchase: the card renewals charge and the caller's invoices. The status object the actions answer
// is kept in one place, the account store (`account.subscription`), as GET /api/account/ has it.
import { acceptHMRUpdate, defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import * as billing from '@/api/billing'
import { formatPrice } from '@/utils/format'
import { useAccountStore } from './account'

// How many pages of invoices findInvoice() reads before it gives up (10 a page on Stripe's default):
// a link from an e-mail is about a recent invoice.
export const FIND_INVOICE_PAGES = 10

export const useBillingStore = defineStore('billing', () => {
  const config = ref(null)
  let configPromise = null
  const account = useAccountStore()

  // The card renewals will charge: null when there is none; `paymentMethodLoaded` once asked.
  const paymentMethod = ref(null)
  const paymentMethodLoaded = ref(false)
  // The invoices read so far (newest first) and whether Stripe has older ones.
  const invoices = ref([])
  const invoicesHasMore = ref(false)
  const invoicesLoaded = ref(false)
  // Invoices found by id (a link from an e-mail, the banner's date): asked for once per page load.
  const found = new Map()

  const priceLabel = computed(() => formatPrice(config.value?.price))
  // Premium's prices, monthly first (config `prices`; an older server has only `price`).
  const prices = computed(() => {
    const listed = config.value?.prices
    if (Array.isArray(listed) && listed.length) return listed
    return config.value?.price ? [config.value.price] : []
  })
  // Days of the free trial a first subscription gets; 0: none.
  const trialDays = computed(() => {
    const days = Number(config.value?.trial_days ?? 0)
    return Number.isInteger(days) && days > 0 ? days : 0
  })
  const portalEnabled = computed(() => config.value?.portal === true)

  // The signed-in user signed out (or another one in): the card and invoices are someone else's.
  // (The first sign-in of the page has nothing to forget, and may have reads in flight.)
  watch(
    () => account.user?.id ?? null,
    (_next, previous) => {
      if (previous !== null) reset()
    },
  )

  function reset() {
    paymentMethod.value = null
    paymentMethodLoaded.value = false
    invoices.value = []
    invoicesHasMore.value = false
    invoicesLoaded.value = false
    found.clear()
  }

  /** GET /api/stripe/config/ once per page load. */
  function loadConfig() {
    if (config.value) return Promise.resolve(config.value)
    configPromise ??= billing
      .fetchStripeConfig()
      .then((data) => {
        config.value = data
        return data
      })
      .finally(() => {
        configPromise = null
      })
    return configPromise
  }

  /** Every status object the server sends goes into the account (its subscription and tier). */
  function applyStatus(next) {
    account.setSubscription(next)
    return next
  }

  async function fetchStatus() {
    return applyStatus(await billing.fetchSubscription())
  }

  /**
   * {subscription_id, status, client_secret, intent_type, premium, trial_end}; options
   * {price, promotionCode, trial} (see api/billing.js).
   */
  function createSubscription(options = {}) {
    return billing.createSubscription(options)
  }

  /** What a promotion code takes off the first payment of a price (400 with the server's sentence). */
  function checkPromotionCode({ code, price }) {
    return billing.checkPromotionCode({ code, price })
  }

  /** What a plan switch charges and when (Stripe's invoice preview, read by the server). */
  function previewChange(price) {
    return billing.previewPlanChange(price)
  }

  /**
   * Switches plans; the status object goes into the account, the invoice (a prorated charge, or
   * null) into the invoices read so far. → {subscription, invoice}
   */
  async function changePlan({ price, prorationDate }) {
    const answer = await billing.changePlan({ price, prorationDate })
    if (answer?.subscription) applyStatus(answer.subscription)
    if (answer?.invoice) rememberInvoice(answer.invoice)
    return answer
  }

  /** Calls off a scheduled change (yearly → monthly): the plan stays as it is. */
  async function cancelChange() {
    return applyStatus(await billing.cancelPlanChange())
  }

  async function sync() {
    const next = applyStatus(await billing.syncSubscription())
    // Usage limits and tier come with the account: read it again.
    await account.refresh()
    return next
  }

  /**
   * After a payment already went through (or was tried) at Stripe: sync, and should that fail
   * (Stripe down, throttled), the stored status from a fresh account read. Never throws.
   */
  async function syncAfterPayment() {
    try {
      return await sync()
    } catch {
      await account.refresh()
      return account.subscription
    }
  }

  async function cancel({ atPeriodEnd = true } = {}) {
    return applyStatus(await billing.cancelSubscription({ atPeriodEnd }))
  }

  async function resume() {
    return applyStatus(await billing.resumeSubscription())
  }

  /** GET /api/stripe/payment-method/ → the card (or null). */
  async function loadPaymentMethod() {
    const { payment_method: card } = await billing.fetchPaymentMethod()
    paymentMethod.value = card ?? null
    paymentMethodLoaded.value = true
    return paymentMethod.value
  }

  /** {client_secret} of a new SetupIntent (the change-card form confirms it with Stripe.js). */
  function createSetupIntent() {
    return billing.createSetupIntent()
  }

  /**
   * POST /api/stripe/payment-method/: the new card becomes the one renewals charge (the old one
   * stays on screen when this throws). Answers {payment_method, invoice?}; `invoice` is an open
   * invoice the server paid with it (its `client_secret` set if the bank wants 3-D Secure).
   */
  async function savePaymentMethod(paymentMethodId) {
    const answer = await billing.updatePaymentMethod(paymentMethodId)
    paymentMethod.value = answer?.payment_method ?? null
    paymentMethodLoaded.value = true
    if (answer?.invoice) rememberInvoice(answer.invoice)
    return answer
  }

  /** The first page of invoices, or (`more`) the next one after those already read. */
  async function loadInvoices({ more = false } = {}) {
    const last = more ? invoices.value.at(-1)?.id : undefined
    const page = await billing.fetchInvoices(last ? { startingAfter: last } : {})
    const results = Array.isArray(page?.results) ? page.results : []
    if (last) {
      // A page read twice (an invoice created meanwhile shifts the list) must not list one twice.
      const seen = new Set(invoices.value.map((invoice) => invoice.id))
      invoices.value = [...invoices.value, ...results.filter((invoice) => !seen.has(invoice.id))]
    } else {
      invoices.value = results
    }
    invoicesHasMore.value = Boolean(page?.has_more)
    invoicesLoaded.value = true
    return invoices.value
  }

  /** A newer copy of an invoice (paid, say) replaces the one listed and the one found. */
  function rememberInvoice(invoice) {
    if (!invoice?.id) return
    if (found.has(invoice.id)) found.set(invoice.id, Promise.resolve(invoice))
    const index = invoices.value.findIndex((item) => item.id === invoice.id)
    if (index >= 0) invoices.value = invoices.value.map((item, i) => (i === index ? invoice : item))
  }

  /**
   * One of the caller's invoices by id, or null if it is not theirs (or older than
   * FIND_INVOICE_PAGES pages). The API has no single-invoice read: this pages through the list.
   */
  function findInvoice(id, { fresh = false } = {}) {
    if (!fresh) {
      const listed = invoices.value.find((invoice) => invoice.id === id)
      if (listed) return Promise.resolve(listed)
      if (found.has(id)) return found.get(id)
    }
    const search = (async () => {
      let startingAfter
      for (let pages = 0; pages < FIND_INVOICE_PAGES; pages++) {
        const page = await billing.fetchInvoices(startingAfter ? { startingAfter } : {})
        const results = Array.isArray(page?.results) ? page.results : []
        const invoice = results.find((item) => item.id === id)
        if (invoice) {
          rememberInvoice(invoice)
          return invoice
        }
        if (!page?.has_more || !results.length) return null
        startingAfter = results.at(-1).id
      }
      return null
    })()
    found.set(id, search)
    // A failed search (network, 5xx) is asked again next time, not remembered.
    search.catch(() => found.delete(id))
    return search
  }

  /** POST /api/stripe/invoices/{id}/pay/ → the invoice (paid, or with the client_secret to confirm). */
  async function payInvoice(id) {
    const invoice = await billing.payInvoice(id)
    rememberInvoice(invoice)
    return invoice
  }

  /** The URL of Stripe's hosted customer portal for the caller. */
  async function portalUrl() {
    const { url } = await billing.createPortalSession()
    return url
  }

  return {
    config,
    priceLabel,
    prices,
    trialDays,
    portalEnabled,
    paymentMethod,
    paymentMethodLoaded,
    invoices,
    invoicesHasMore,
    invoicesLoaded,
    loadConfig,
    fetchStatus,
    createSubscription,
    checkPromotionCode,
    previewChange,
    changePlan,
    cancelChange,
    sync,
    syncAfterPayment,
    cancel,
    resume,
    loadPaymentMethod,
    createSetupIntent,
    savePaymentMethod,
    loadInvoices,
    findInvoice,
    payInvoice,
    portalUrl,
    reset,
  }
})

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useBillingStore, import.meta.hot))
