// Issue 15's words and numbers: plan prices, the yearly saving (computed from the two prices),
// promotion codes and the trial, as the purchase and account pages write them.
import { describe, expect, it } from 'vitest'
import {
  describePromotion,
  describeSubscription,
  describeTrial,
  formatMoney,
  formatRecurring,
  planName,
  promotionOff,
  yearlySaving,
} from '@/utils/format'
import { MONTHLY, YEARLY, promotionAnswer, statusObject } from './helpers'

describe('plans', () => {
  it('writes amounts and recurring prices the way the pages do', () => {
    expect(formatMoney(1000, 'usd')).toBe('USD 10.00')
    expect(formatMoney(0, 'usd')).toBe('USD 0.00')
    expect(formatMoney(-1290, 'usd')).toBe('-USD 12.90')
    expect(formatMoney(500, 'jpy')).toBe('JPY 500')
    expect(formatMoney(null, 'usd')).toBe('')
    expect(formatMoney(100, '')).toBe('')
    expect(formatRecurring(MONTHLY)).toBe('USD 20.00/month')
    expect(formatRecurring(YEARLY)).toBe('USD 200.00/year')
    expect(formatRecurring(MONTHLY, 1000)).toBe('USD 10.00/month')
    expect(formatRecurring(null)).toBe('')
    expect(planName('month')).toBe('Monthly')
    expect(planName('year')).toBe('Yearly')
  })

  it('computes the yearly saving from the two prices (never a written-down figure)', () => {
    expect(yearlySaving(MONTHLY, YEARLY)).toEqual({ amount: 4000, percent: 17, text: 'save USD 40.00 (17%)' })
    // Other prices, other saving: 12 × 9.99 = 119.88 against 99.00.
    expect(yearlySaving({ ...MONTHLY, unit_amount: 999 }, { ...YEARLY, unit_amount: 9900 })).toEqual({
      amount: 2088,
      percent: 17,
      text: 'save USD 20.88 (17%)',
    })
    expect(yearlySaving({ ...MONTHLY, unit_amount: 1000 }, { ...YEARLY, unit_amount: 6000 }).percent).toBe(50)
    // No saving, no claim; nor across currencies or with the prices the wrong way round.
    expect(yearlySaving(MONTHLY, { ...YEARLY, unit_amount: 24000 })).toBeNull()
    expect(yearlySaving(MONTHLY, { ...YEARLY, currency: 'eur' })).toBeNull()
    expect(yearlySaving(YEARLY, MONTHLY)).toBeNull()
    expect(yearlySaving(MONTHLY, null)).toBeNull()
  })
})

describe('promotion codes', () => {
  it('says what the first payment is, then the regular price', () => {
    expect(describePromotion(promotionAnswer())).toBe(
      'First payment USD 10.00 (50% off), then USD 20.00/month',
    )
    expect(describePromotion(promotionAnswer(YEARLY))).toBe(
      'First payment USD 100.00 (50% off), then USD 200.00/year',
    )
    const fiveOff = promotionAnswer(MONTHLY, { percent_off: null, amount_off: 500, first_amount: 1500 })
    expect(promotionOff(fiveOff)).toBe('USD 5.00 off')
    expect(describePromotion(fiveOff)).toBe('First payment USD 15.00 (USD 5.00 off), then USD 20.00/month')
  })

  it('repeating and forever discounts say how long they last', () => {
    expect(
      describePromotion(
        promotionAnswer(MONTHLY, {
          duration: 'repeating',
          duration_in_months: 3,
          percent_off: 25,
          first_amount: 1500,
        }),
      ),
    ).toBe('USD 15.00/month for the first 3 months (25% off), then USD 20.00/month')
    expect(describePromotion(promotionAnswer(MONTHLY, { duration: 'forever' }))).toBe(
      'USD 10.00/month (50% off) instead of USD 20.00/month',
    )
  })

  it('says nothing without an answer', () => {
    expect(describePromotion(null)).toBe('')
    expect(describePromotion({ price: MONTHLY })).toBe('')
  })
})

describe('the free trial', () => {
  it('says until when, what comes after and that cancelling before costs nothing', () => {
    expect(describeTrial('2026-12-08T21:00:00Z', MONTHLY)).toBe(
      'Free trial until 8 Dec 2026, then USD 20.00/month; cancel before and pay nothing',
    )
    expect(describeTrial('2026-12-08T21:00:00Z', YEARLY)).toBe(
      'Free trial until 8 Dec 2026, then USD 200.00/year; cancel before and pay nothing',
    )
    expect(describeTrial(null, MONTHLY)).toBe('')
  })

  it('the status object of a trialing subscription reads as a trial', () => {
    const trialing = statusObject('active', {
      stripe_status: 'trialing',
      trial_end: '2026-12-08T21:00:00Z',
      price: MONTHLY,
      interval: 'month',
    })
    expect(describeSubscription(trialing)).toEqual({
      headline: 'Free trial until 8 Dec 2026',
      detail: 'Then USD 20.00/month, charged to your card. Cancel before and pay nothing.',
    })
    const ending = { ...trialing, state: 'cancelling', cancel_at_period_end: true }
    expect(describeSubscription(ending).headline).toBe('Free trial ends on 8 Dec 2026')
    expect(describeSubscription(ending).detail).toContain('nothing will be charged')
    // An active paid subscription is unchanged.
    expect(describeSubscription(statusObject('active')).headline).toBe('Premium until 26 Dec 2026')
  })
})
