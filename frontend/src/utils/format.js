// Words and numbers shown to people: prices, dates, subscription states, quota and usage.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
// Stripe amounts are in the smallest unit; these currencies have none below the unit.
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
])

/** {unit_amount: 2000, currency: 'usd', interval: 'month'} → "USD 20.00 per month" */
export function formatPrice(price) {
  if (!price || price.unit_amount == null || !price.currency) return ''
  const currency = String(price.currency).toLowerCase()
  const amount = ZERO_DECIMAL.has(currency) ? String(price.unit_amount) : (price.unit_amount / 100).toFixed(2)
  const per = price.interval ? ` per ${price.interval}` : ''
  return `${currency.toUpperCase()} ${amount}${per}`
}

/** ISO-8601 → "26 Dec 2026" (UTC, so every visitor reads the same day as the server). */
export function formatDate(iso) {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`
}

/** ISO-8601 → "26 Dec 2026, 14:05 UTC" */
export function formatDateTime(iso) {
  const day = formatDate(iso)
  if (!day) return ''
  const d = new Date(iso)
  const hh = String(d.getUTCHours()).padStart(2, '0')
  const mm = String(d.getUTCMinutes()).padStart(2, '0')
  return `${day}, ${hh}:${mm} UTC`
}

export function formatNumber(n) {
  if (n === null || n === undefined || n === '') return ''
  const num = Number(n)
  return Number.isFinite(num) ? num.toLocaleString('en-US') : String(n)
}

export function formatUsd(n) {
  if (n === null || n === undefined || n === '') return ''
  const num = Number(n)
  return Number.isFinite(num) ? `$${num.toLocaleString('en-US', { maximumFractionDigits: 0 })}` : String(n)
}

export const STATE_LABELS = {
  none: 'No subscription',
  incomplete: 'Payment incomplete',
  active: 'Active',
  cancelling: 'Cancelling',
  past_due: 'Payment past due',
  cancelled: 'Cancelled',
}

export function stateLabel(state) {
  return STATE_LABELS[state] ?? 'Unknown'
}

/** Until when Premium lasts, as the server computed it. */
export function premiumEnd(status) {
  return status?.premium_until || status?.current_period_end || null
}

/** The status object in one or two sentences: {headline, detail}. */
export function describeSubscription(status) {
  const state = status?.state ?? 'none'
  const end = formatDate(premiumEnd(status))
  switch (state) {
    case 'active':
      return {
        headline: end ? `Premium until ${end}` : 'Premium',
        detail: 'Renews automatically. You can cancel any time.',
      }
    case 'cancelling':
      return {
        headline: end ? `Cancels on ${end}` : 'Cancels at the end of the period',
        detail: end
          ? `Premium stays on until ${end}. Resume before then to keep it.`
          : 'Premium stays on until the end of the period.',
      }
    case 'past_due':
      return {
        headline: 'Payment past due',
        detail: status?.premium
          ? `The last payment failed. Premium stays on until ${end || 'the grace period ends'} while the card is retried.`
          : 'The last payment failed. Update your card by purchasing again to get Premium back.',
      }
    case 'incomplete':
      return {
        headline: 'Payment not completed',
        detail: 'The first payment was not confirmed. Purchase again to finish it.',
      }
    case 'cancelled':
      return {
        headline: 'Cancelled',
        detail: 'You are on the free tier. You can buy Premium again any time.',
      }
    default:
      return { headline: 'No subscription', detail: 'You are on the free tier.' }
  }
}

/** usage {used, limit, resets_at} → {text, ratio, unlimited} for the meter. */
export function describeUsage(usage) {
  const used = Number(usage?.used ?? 0)
  const limit = usage?.limit
  const resets = usage?.resets_at ? ` Resets ${formatDateTime(usage.resets_at)}.` : ''
  if (limit === null || limit === undefined) {
    return { text: `Unlimited: ${formatNumber(used)} requests today.`, ratio: 0, unlimited: true }
  }
  const ratio = limit > 0 ? Math.min(1, used / limit) : 1
  return {
    text: `${formatNumber(used)} of ${formatNumber(limit)} requests used today.${resets}`,
    ratio,
    unlimited: false,
  }
}

export const TIER_LABELS = { guest: 'Guest', free: 'Free', premium: 'Premium' }

export function tierLabel(tier) {
  return TIER_LABELS[tier] ?? 'Guest'
}
