import { describe, expect, it } from 'vitest'
import {
  describeSubscription,
  describeUsage,
  formatDate,
  formatPrice,
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
