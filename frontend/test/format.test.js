import { describe, expect, it } from 'vitest'
import {
  brandLabel,
  cardExpiryState,
  describePaymentProblem,
  describeSubscription,
  describeUsage,
  formatAmount,
  formatCardExpiry,
  formatDate,
  formatPeriod,
  formatPrice,
  invoiceStatusLabel,
  stateLabel,
  tierLabel,
} from '@/utils/format'

const END = '2026-12-26T10:00:00Z'

describe('formatPrice', () => {
  it('spells the config price out', () => {
    expect(formatPrice({ id: 'price_1', unit_amount: 2000, currency: 'usd', interval: 'month' })).toBe(
      'USD 20.00 per month',
    )
  })
  it('keeps zero-decimal currencies whole and tolerates a missing price', () => {
    expect(formatPrice({ unit_amount: 2500, currency: 'jpy', interval: 'year' })).toBe('JPY 2500 per year')
    expect(formatPrice(null)).toBe('')
  })
})

describe('formatDate', () => {
  it('writes day, short month and year', () => {
    expect(formatDate(END)).toBe('26 Dec 2026')
    expect(formatDate(null)).toBe('')
    expect(formatDate('not a date')).toBe('')
  })
})

describe('describeSubscription', () => {
  const status = (state, extra = {}) => ({
    state,
    premium: ['active', 'cancelling'].includes(state),
    premium_until: END,
    current_period_end: END,
    cancel_at_period_end: state === 'cancelling',
    ...extra,
  })

  it.each([
    ['none', 'No subscription'],
    ['incomplete', 'Payment not completed'],
    ['active', 'Premium until 26 Dec 2026'],
    ['cancelling', 'Cancels on 26 Dec 2026'],
    ['past_due', 'Payment past due'],
    ['cancelled', 'Cancelled'],
  ])('state %s reads "%s"', (state, headline) => {
    expect(describeSubscription(status(state)).headline).toBe(headline)
  })

  it('says until when a cancelling subscription stays premium', () => {
    expect(describeSubscription(status('cancelling')).detail).toContain('until 26 Dec 2026')
  })

  it('treats a missing status object as no subscription', () => {
    expect(describeSubscription(null).headline).toBe('No subscription')
  })

  it('labels every state', () => {
    expect(stateLabel('past_due')).toBe('Payment past due')
    expect(stateLabel('weird')).toBe('Unknown')
    expect(tierLabel('premium')).toBe('Premium')
    expect(tierLabel(undefined)).toBe('Guest')
  })
})

describe('describeUsage', () => {
  it('gives used of limit and the ratio', () => {
    const u = describeUsage({ used: 50, limit: 200, resets_at: '2026-11-27T00:00:00Z' })
    expect(u.text).toBe('50 of 200 requests used today. Resets 27 Nov 2026, 00:00 UTC.')
    expect(u.ratio).toBe(0.25)
    expect(u.unlimited).toBe(false)
  })
  it('says unlimited when the limit is null', () => {
    expect(describeUsage({ used: 7, limit: null }).unlimited).toBe(true)
  })
  it('caps the ratio at 1', () => {
    expect(describeUsage({ used: 250, limit: 200 }).ratio).toBe(1)
  })
})

describe('after the purchase: amounts, cards, invoices, the payment banner', () => {
  it('formats amounts in the smallest unit like the price, with the currency sign', () => {
    expect(formatAmount(2000, 'usd')).toBe('$20.00')
    expect(formatAmount(0, 'usd')).toBe('$0.00')
    expect(formatAmount(950, 'eur')).toBe('€9.50')
    expect(formatAmount(2500, 'jpy')).toBe('¥2,500')
    expect(formatAmount(2000, 'zzz')).toMatch(/^ZZZ\s20\.00$/) // well-formed, unknown to Intl
    expect(formatAmount(2000, 'x1')).toBe('X1 20.00') // not a currency code at all
    expect(formatAmount(null, 'usd')).toBe('')
    expect(formatAmount(2000, null)).toBe('')
  })

  it('writes a period, a card brand and its expiry', () => {
    expect(formatPeriod('2026-11-26T10:00:00Z', END)).toBe('26 Nov 2026 – 26 Dec 2026')
    expect(formatPeriod(null, END)).toBe('26 Dec 2026')
    expect(brandLabel('amex')).toBe('American Express')
    expect(brandLabel('visa')).toBe('Visa')
    expect(brandLabel('newbrand_pay')).toBe('Newbrand pay')
    expect(brandLabel(null)).toBe('Card')
    expect(formatCardExpiry(8, 2027)).toBe('08/27')
    expect(formatCardExpiry(12, 2030)).toBe('12/30')
    expect(formatCardExpiry(null, 2030)).toBe('')
  })

  it('says a card expires soon within 30 days of the end of its expiry month, expired after it', () => {
    const card = { exp_month: 12, exp_year: 2026 } // valid through 31 Dec 2026
    expect(cardExpiryState(card, new Date('2026-11-30T23:59:59Z'))).toBe('ok')
    expect(cardExpiryState(card, new Date('2026-12-02T00:00:00Z'))).toBe('soon')
    expect(cardExpiryState(card, new Date('2026-12-31T23:59:59Z'))).toBe('soon')
    expect(cardExpiryState(card, new Date('2027-01-01T00:00:00Z'))).toBe('expired')
    expect(cardExpiryState(null)).toBe('ok')
  })

  it('labels invoice statuses', () => {
    expect(invoiceStatusLabel('paid')).toBe('Paid')
    expect(invoiceStatusLabel('open')).toBe('Due')
    expect(invoiceStatusLabel('uncollectible')).toBe('Uncollectible')
    expect(invoiceStatusLabel('odd')).toBe('Unknown')
  })

  it('words the payment problem banner and where its button goes', () => {
    const failed = { kind: 'payment_failed', invoice_id: 'in_1', amount_due: 2000, currency: 'usd' }
    expect(describePaymentProblem(failed, { failedOn: '2026-11-26T10:00:00Z' })).toEqual({
      kind: 'payment_failed',
      text: 'Your payment of $20.00 failed on 26 Nov 2026 — update your card to keep Premium',
      action: 'Update card',
      to: { name: 'account', hash: '#card' },
    })
    expect(describePaymentProblem(failed).text).toBe(
      'Your payment of $20.00 failed — update your card to keep Premium',
    )
    expect(describePaymentProblem({ ...failed, kind: 'action_required' })).toEqual({
      kind: 'action_required',
      text: 'Your renewal of $20.00 needs your confirmation',
      action: 'Confirm payment',
      to: { name: 'confirm-payment', query: { invoice: 'in_1' } },
    })
    expect(describePaymentProblem(null)).toBeNull()
    expect(describePaymentProblem({ ...failed, kind: 'something_new' })).toBeNull()
  })
})
