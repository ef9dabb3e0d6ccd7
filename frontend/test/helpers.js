// Shared test data and small helpers.
import { h } from 'vue'

export const END = '2026-12-26T10:00:00Z'

export const CONFIG = {
  publishable_key: 'pk_x_unit',
  price: { id: 'price_1', unit_amount: 2000, currency: 'usd', interval: 'month' },
  js_url: 'https://js.stripe.com/v3/',
}

/** The two prices of config `prices` (issue 15), monthly first. */
export const MONTHLY = {
  id: 'price_m',
  lookup_key: 'opensecdata_premium_monthly',
  unit_amount: 2000,
  currency: 'usd',
  interval: 'month',
  product_name: 'Premium',
}
export const YEARLY = {
  id: 'price_y',
  lookup_key: 'opensecdata_premium_yearly',
  unit_amount: 20000,
  currency: 'usd',
  interval: 'year',
  product_name: 'Premium',
}

/** A config with both prices and a trial (GET /api/stripe/config/ after issue 15). */
export const PLANS_CONFIG = { ...CONFIG, price: MONTHLY, prices: [MONTHLY, YEARLY], trial_days: 7 }

/** The answer of POST promotion-code/ for WELCOME50 on a price. */
export function promotionAnswer(price = MONTHLY, extra = {}) {
  return {
    code: 'WELCOME50',
    promotion_code_id: 'promo_1',
    percent_off: 50.0,
    amount_off: null,
    duration: 'once',
    duration_in_months: null,
    price,
    amount: price.unit_amount,
    discount: price.unit_amount / 2,
    first_amount: price.unit_amount / 2,
    currency: price.currency,
    description: '50% off the first payment',
    ...extra,
  }
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
