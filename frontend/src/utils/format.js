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

/** 1000, 'usd' → "USD 10.00" (the way prices are written on the purchase and account pages). */
export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined || amount === '' || !currency) return ''
  const value = Number(amount)
  if (!Number.isFinite(value)) return ''
  const code = String(currency).toLowerCase()
  const size = Math.abs(value)
  // A credit (a proration line) reads "-USD 12.90".
  return `${value < 0 ? '-' : ''}${code.toUpperCase()} ${ZERO_DECIMAL.has(code) ? String(size) : (size / 100).toFixed(2)}`
}

/** A price object → "USD 20.00/month" ('' without one). */
export function formatRecurring(price, amount = price?.unit_amount) {
  const money = formatMoney(amount, price?.currency)
  if (!money) return ''
  return price.interval ? `${money}/${price.interval}` : money
}

export const PLAN_NAMES = { month: 'Monthly', year: 'Yearly' }

/** 'month' → "Monthly", 'year' → "Yearly". */
export function planName(interval) {
  return PLAN_NAMES[interval] ?? 'Premium'
}

/**
 * What the yearly price saves against twelve monthly payments: {amount, percent, text} or null
 * (no saving, or prices in different currencies). Computed from the two prices, never written down.
 */
export function yearlySaving(monthly, yearly) {
  if (!monthly || !yearly || monthly.interval !== 'month' || yearly.interval !== 'year') return null
  if (String(monthly.currency).toLowerCase() !== String(yearly.currency).toLowerCase()) return null
  const twelve = Number(monthly.unit_amount) * 12
  const amount = twelve - Number(yearly.unit_amount)
  if (!Number.isFinite(amount) || amount <= 0) return null
  const percent = Math.round((amount / twelve) * 100)
  return { amount, percent, text: `save ${formatMoney(amount, yearly.currency)} (${percent}%)` }
}

/** The discount of a promotion code answer: "50% off" or "USD 5.00 off". */
export function promotionOff(promotion) {
  if (promotion?.percent_off) return `${Number(promotion.percent_off)}% off`
  if (promotion?.amount_off) return `${formatMoney(promotion.amount_off, promotion.currency)} off`
  return ''
}

/**
 * A checked promotion code (POST promotion-code/) in one sentence, e.g. "First payment USD 10.00
 * (50% off), then USD 20.00/month". The amounts are the server's (first_amount: what the first
 * invoice charges).
 */
export function describePromotion(promotion) {
  const price = promotion?.price
  if (!price || promotion.first_amount == null) return ''
  const off = promotionOff(promotion)
  const note = off ? ` (${off})` : ''
  const first = formatMoney(promotion.first_amount, promotion.currency || price.currency)
  const full = formatRecurring(price)
  if (promotion.duration === 'forever')
    return `${formatRecurring(price, promotion.first_amount)}${note} instead of ${full}`
  const months = Number(promotion.duration_in_months)
  if (promotion.duration === 'repeating' && price.interval === 'month' && months > 1) {
    return `${formatRecurring(price, promotion.first_amount)} for the first ${months} months${note}, then ${full}`
  }
  return `First payment ${first}${note}, then ${full}`
}

/** "Free trial until 8 Dec 2026, then USD 20.00/month; cancel before and pay nothing" ('' without a date). */
export function describeTrial(trialEnd, price) {
  const end = formatDate(trialEnd)
  if (!end) return ''
  const then = formatRecurring(price)
  return `Free trial until ${end}${then ? `, then ${then}` : ''}; cancel before and pay nothing`
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
  const trialEnd = status?.stripe_status === 'trialing' ? formatDate(status?.trial_end) : ''
  if (trialEnd && state === 'active') {
    const then = formatRecurring(status?.price)
    return {
      headline: `Free trial until ${trialEnd}`,
      detail: `Then ${then || 'the plan’s price'}, charged to your card. Cancel before and pay nothing.`,
    }
  }
  if (trialEnd && state === 'cancelling') {
    return {
      headline: `Free trial ends on ${trialEnd}`,
      detail: `Premium stays on until then and nothing will be charged. Resume before then to keep it.`,
    }
  }
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
          ? `The last payment failed. Premium stays on until ${end || 'the grace period ends'} while the card is retried; a new card pays it at once.`
          : 'The last payment failed. Change your card or pay the open invoice to get Premium back.',
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

/** An amount in the smallest unit → "$20.00" (USD), "€9.50", "¥2,500"; '' without one. */
export function formatAmount(amount, currency) {
  if (amount === null || amount === undefined || amount === '' || !currency) return ''
  const code = String(currency).toUpperCase()
  const value = ZERO_DECIMAL.has(code.toLowerCase()) ? Number(amount) : Number(amount) / 100
  if (!Number.isFinite(value)) return ''
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).format(value)
  } catch {
    // Not an ISO code Intl knows: still the amount, with the code in front like formatPrice().
    return `${code} ${ZERO_DECIMAL.has(code.toLowerCase()) ? value : value.toFixed(2)}`
  }
}

/** Two ISO-8601 dates → "26 Nov 2026 – 26 Dec 2026" (one of them is enough). */
export function formatPeriod(start, end) {
  return [formatDate(start), formatDate(end)].filter(Boolean).join(' – ')
}

const BRANDS = {
  amex: 'American Express',
  cartes_bancaires: 'Cartes Bancaires',
  diners: 'Diners Club',
  discover: 'Discover',
  eftpos_au: 'eftpos Australia',
  jcb: 'JCB',
  link: 'Link',
  mastercard: 'Mastercard',
  unionpay: 'UnionPay',
  visa: 'Visa',
}

/** Stripe's card brand ("visa", "amex") → the name people know; unknown ones capitalised. */
export function brandLabel(brand) {
  if (!brand || brand === 'unknown') return 'Card'
  return BRANDS[brand] ?? brand.charAt(0).toUpperCase() + brand.slice(1).replace(/_/g, ' ')
}

/** exp_month 8, exp_year 2027 → "08/27" */
export function formatCardExpiry(month, year) {
  if (!month || !year) return ''
  return `${String(month).padStart(2, '0')}/${String(year % 100).padStart(2, '0')}`
}

const DAY_MS = 24 * 60 * 60 * 1000
export const EXPIRES_SOON_DAYS = 30

/**
 * A card works until the last moment of its expiry month: 'expired' after that, 'soon' within
 * EXPIRES_SOON_DAYS days of it, else 'ok' (UTC, like every date on the page).
 */
export function cardExpiryState(card, now = new Date()) {
  if (!card?.exp_month || !card?.exp_year) return 'ok'
  const end = Date.UTC(card.exp_year, card.exp_month, 1) // first moment after the expiry month
  const left = end - now.getTime()
  if (left <= 0) return 'expired'
  return left <= EXPIRES_SOON_DAYS * DAY_MS ? 'soon' : 'ok'
}

export const INVOICE_STATUS_LABELS = {
  draft: 'Draft',
  open: 'Due',
  paid: 'Paid',
  void: 'Void',
  uncollectible: 'Uncollectible',
}

export function invoiceStatusLabel(status) {
  return INVOICE_STATUS_LABELS[status] ?? 'Unknown'
}

/**
 * The status object's payment_problem → what the banner on every page says, or null:
 * `{kind, text, action, to}` (`to`: where the fix is). `failedOn` is the day the charge failed,
 * when known (the invoice's date).
 */
export function describePaymentProblem(problem, { failedOn = null } = {}) {
  if (!problem?.kind) return null
  const amount = formatAmount(problem.amount_due, problem.currency)
  const payment = amount ? `Your payment of ${amount}` : 'Your payment'
  if (problem.kind === 'action_required') {
    return {
      kind: 'action_required',
      text: amount
        ? `Your renewal of ${amount} needs your confirmation`
        : 'Your renewal needs your confirmation',
      action: 'Confirm payment',
      to: { name: 'confirm-payment', query: { invoice: problem.invoice_id } },
    }
  }
  if (problem.kind !== 'payment_failed') return null
  const day = formatDate(failedOn)
  return {
    kind: 'payment_failed',
    text: `${payment} failed${day ? ` on ${day}` : ''} — update your card to keep Premium`,
    action: 'Update card',
    to: { name: 'account', hash: '#card' },
  }
}
