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
