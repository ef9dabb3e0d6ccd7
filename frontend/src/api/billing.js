// Stripe billing endpoints (docs/api.md "Billing"): config, the purchase and the subscription actions
// (each answers a status object), then the card on file, invoices and the customer portal.
import { api } from '@/boot/axios'

export async function fetchStripeConfig() {
  const { data } = await api.get('/api/stripe/config/')
  return data
}

/**
 * {subscription_id, status, client_secret, intent_type, premium, trial_end}; 409 already premium (or
 * no trial), 402 declined, 400 a price or promotion code that is not valid. `price`: a lookup key or
 * price id of Premium's prices (default monthly); `promotionCode`: the code as typed; `trial`: the
 * free trial (the answer's client_secret is then a SetupIntent's).
 */
export async function createSubscription({ price, promotionCode, trial } = {}) {
  const body = {}
  if (price) body.price = price
  if (promotionCode) body.promotion_code = promotionCode
  if (trial) body.trial = true
  const { data } = await api.post('/api/stripe/create-subscription/', body)
  return data
}

/** What a promotion code takes off the first payment of `price`; 400 with a sentence if it does not apply. */
export async function checkPromotionCode({ code, price }) {
  const body = { code }
  if (price) body.price = price
  const { data } = await api.post('/api/stripe/promotion-code/', body)
  return data
}

/** What switching to `price` charges and when: {price, timing, effective_at, amount_due, currency, proration_date, lines}. */
export async function previewPlanChange(price) {
  const { data } = await api.post('/api/stripe/subscription/preview-change/', { price })
  return data
}

/** {subscription, invoice}: switches plans (now, or at the period end); `prorationDate` from the preview. */
export async function changePlan({ price, prorationDate }) {
  const body = { price }
  if (Number.isInteger(prorationDate)) body.proration_date = prorationDate
  const { data } = await api.post('/api/stripe/subscription/change/', body)
  return data
}

/** The status object, with the scheduled change (yearly → monthly) called off. */
export async function cancelPlanChange() {
  const { data } = await api.post('/api/stripe/subscription/cancel-change/', {})
  return data
}

export async function syncSubscription() {
  const { data } = await api.post('/api/stripe/subscription/sync/', {})
  return data
}

export async function fetchSubscription() {
  const { data } = await api.get('/api/stripe/subscription/')
  return data
}

export async function cancelSubscription({ atPeriodEnd = true } = {}) {
  const { data } = await api.post('/api/stripe/cancel-subscription/', {
    at_period_end: atPeriodEnd,
  })
  return data
}

export async function resumeSubscription() {
  const { data } = await api.post('/api/stripe/resume-subscription/', {})
  return data
}

// After the purchase: the card renewals charge, the invoices, the hosted customer portal.

/** {payment_method: {id, brand, last4, exp_month, exp_year} | null} */
export async function fetchPaymentMethod() {
  const { data } = await api.get('/api/stripe/payment-method/')
  return data
}

/** {client_secret: "seti_..._secret_..."}: a SetupIntent for the browser to collect a new card. */
export async function createSetupIntent() {
  const { data } = await api.post('/api/stripe/setup-intent/', {})
  return data
}

/** {payment_method, invoice?}; 402 refused, 400 not the caller's card. `invoice`: an open one it paid. */
export async function updatePaymentMethod(paymentMethodId) {
  const { data } = await api.post('/api/stripe/payment-method/', { payment_method_id: paymentMethodId })
  return data
}

/** {results: [invoice...], has_more}, newest first; `startingAfter` (an invoice id) for the next page. */
export async function fetchInvoices({ startingAfter } = {}) {
  const params = startingAfter ? { starting_after: startingAfter } : {}
  const { data } = await api.get('/api/stripe/invoices/', { params })
  return data
}

/** The invoice object; with `client_secret` when the bank wants 3-D Secure. 402 declined, 409 not open. */
export async function payInvoice(invoiceId) {
  const { data } = await api.post(`/api/stripe/invoices/${encodeURIComponent(invoiceId)}/pay/`, {})
  return data
}

/** {url} of Stripe's hosted customer portal (it sends the customer back to /account). */
export async function createPortalSession() {
  const { data } = await api.post('/api/stripe/portal-session/', {})
  return data
}
