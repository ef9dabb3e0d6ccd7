// Shared test data and small helpers.
import { h } from 'vue'

export const END = '2026-12-26T10:00:00Z'

export const CONFIG = {
  publishable_key: 'pk_x_unit',
  price: { id: 'price_1', unit_amount: 2000, currency: 'usd', interval: 'month' },
  js_url: 'https://js.stripe.com/v3/',
}

export function statusObject(state, extra = {}) {
  const premium = ['active', 'cancelling'].includes(state)
  return {
    state,
    stripe_status: premium ? 'active' : state,
    premium,
    premium_until: premium ? END : null,
    current_period_end: END,
    cancel_at_period_end: state === 'cancelling',
    subscription_id: state === 'none' ? null : 'sub_1',
    ...extra,
  }
}

export function accountPayload(tier = 'free', extra = {}) {
  return {
    id: 1,
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    tier,
    subscription: statusObject(tier === 'premium' ? 'active' : 'none'),
    usage: { used: 3, limit: tier === 'premium' ? null : 200, resets_at: '2026-11-27T00:00:00Z' },
    ...extra,
  }
}

/** An axios-like error with a response. */
export function httpError(status, data = {}, headers = {}) {
  const error = new Error(`Request failed with status code ${status}`)
  error.response = { status, data, headers, config: { url: '/x' } }
  return error
}

export const flush = () => new Promise((resolve) => setTimeout(resolve, 0))

// QPage needs a QLayout around it; tests mount pages inside this plain wrapper instead.
export const PlainPage = {
  setup:
    (_, { slots }) =>
    () =>
      h('div', slots.default?.()),
}

/** A card as GET /api/stripe/payment-method/ has it. */
export function cardObject(extra = {}) {
  return { id: 'pm_1', brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, ...extra }
}

/** An invoice object of docs/api.md (renewal of USD 20.00). */
export function invoiceObject(id, extra = {}) {
  return {
    id,
    number: `NUM-${id.slice(3)}`,
    status: 'paid',
    amount_due: 2000,
    amount_paid: 2000,
    currency: 'usd',
    created: '2026-11-26T10:00:00Z',
    period_start: '2026-11-26T10:00:00Z',
    period_end: END,
    hosted_invoice_url: `https://pay.example/invoices/${id}`,
    invoice_pdf: `https://pay.example/invoices/${id}.pdf`,
    client_secret: null,
    ...extra,
  }
}

/** payment_problem of the status object. */
export function paymentProblem(kind = 'payment_failed', extra = {}) {
  return {
    kind,
    invoice_id: 'in_open',
    amount_due: 2000,
    currency: 'usd',
    next_attempt: '2026-11-29T10:00:00Z',
    ...extra,
  }
}
