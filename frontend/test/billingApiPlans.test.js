// The request bodies of issue 15's endpoints (docs/api.md), as src/api/billing.js sends them through
// the one HTTP client (its adapter replaced: the bodies are what would go over the wire).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { api } from '@/boot/axios'
import {
  cancelPlanChange,
  changePlan,
  checkPromotionCode,
  createSubscription,
  previewPlanChange,
} from '@/api/billing'

describe('issue 15 requests', () => {
  let seen
  const originalAdapter = api.defaults.adapter

  beforeEach(() => {
    seen = []
    document.cookie = 'csrftoken=tok; path=/'
    api.defaults.adapter = async (config) => {
      seen.push({
        method: config.method,
        url: config.url,
        body: config.data ? JSON.parse(config.data) : undefined,
      })
      return { data: { ok: true }, status: 200, statusText: 'OK', headers: {}, config }
    }
  })
  afterEach(() => {
    api.defaults.adapter = originalAdapter
    document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/'
  })

  const last = () => seen.at(-1)

  it('create-subscription: {} as before, or the price, the code and the trial', async () => {
    await createSubscription()
    expect(last()).toMatchObject({ method: 'post', url: '/api/stripe/create-subscription/', body: {} })
    await createSubscription({ price: 'opensecdata_premium_yearly', promotionCode: 'WELCOME50' })
    expect(last().body).toEqual({ price: 'opensecdata_premium_yearly', promotion_code: 'WELCOME50' })
    await createSubscription({ price: 'price_m', trial: true })
    expect(last().body).toEqual({ price: 'price_m', trial: true })
  })

  it('promotion-code, preview-change, change (with the preview’s proration_date), cancel-change', async () => {
    await checkPromotionCode({ code: 'WELCOME50', price: 'price_y' })
    expect(last()).toMatchObject({
      url: '/api/stripe/promotion-code/',
      body: { code: 'WELCOME50', price: 'price_y' },
    })
    await previewPlanChange('price_y')
    expect(last()).toMatchObject({
      url: '/api/stripe/subscription/preview-change/',
      body: { price: 'price_y' },
    })
    await changePlan({ price: 'price_y', prorationDate: 1796159000 })
    expect(last()).toMatchObject({
      url: '/api/stripe/subscription/change/',
      body: { price: 'price_y', proration_date: 1796159000 },
    })
    await changePlan({ price: 'price_m' })
    expect(last().body).toEqual({ price: 'price_m' })
    await cancelPlanChange()
    expect(last()).toMatchObject({ method: 'post', url: '/api/stripe/subscription/cancel-change/', body: {} })
  })
})
