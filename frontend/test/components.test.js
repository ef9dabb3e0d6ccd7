import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import UsageMeter from '@/components/UsageMeter.vue'
import TierBadge from '@/components/TierBadge.vue'
import HoldingsChart from '@/components/HoldingsChart.vue'
import QuotaBar from '@/components/QuotaBar.vue'
import { useQuotaStore } from '@/stores/quota'

describe('UsageMeter', () => {
  it('shows used of limit with a progress bar', () => {
    const wrapper = mount(UsageMeter, {
      props: { usage: { used: 150, limit: 200, resets_at: '2026-11-27T00:00:00Z' } },
    })
    expect(wrapper.text()).toContain('150 of 200 requests used today.')
    const bar = wrapper.get('[role="progressbar"]')
    expect(bar.attributes('aria-valuenow')).toBe('75')
  })

  it('has no bar for premium (limit null)', () => {
    const wrapper = mount(UsageMeter, { props: { usage: { used: 9, limit: null } } })
    expect(wrapper.text()).toContain('Unlimited')
    expect(wrapper.find('[role="progressbar"]').exists()).toBe(false)
  })
})

describe('TierBadge', () => {
  it.each([
    ['guest', 'Guest'],
    ['free', 'Free'],
    ['premium', 'Premium'],
  ])('%s reads %s', (tier, text) => {
    const wrapper = mount(TierBadge, { props: { tier } })
    expect(wrapper.get('[data-test="tier-badge"]').text()).toBe(text)
    expect(wrapper.get('[data-test="tier-badge"]').attributes('data-tier')).toBe(tier)
  })
})

describe('HoldingsChart', () => {
  it('draws the ten largest positions, largest first', () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({
      issuer: `Co ${i}`,
      cusip: `C${i}`,
      value: (i + 1) * 100,
    }))
    const wrapper = mount(HoldingsChart, { props: { rows } })
    const labels = wrapper.findAll('.bar-label').map((l) => l.text())
    expect(labels).toHaveLength(10)
    expect(labels[0]).toBe('Co 11')
    expect(wrapper.find('.bar-fill').attributes('style')).toContain('width: 100%')
  })
})

describe('QuotaBar', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('shows the server sentence and an upgrade button on 429', () => {
    const pinia = createPinia()
    setActivePinia(pinia)
    useQuotaStore().fromHeaders({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0' })
    const wrapper = mount(QuotaBar, {
      props: { error: { status: 429, detail: 'Daily quota used up. Premium lifts the limit.' } },
      global: { plugins: [pinia], stubs: { 'router-link': true } },
    })
    expect(wrapper.text()).toContain('0 of 20 requests left today')
    expect(wrapper.get('[data-test="quota-exceeded"]').text()).toContain('Premium lifts the limit.')
    expect(wrapper.find('[data-test="upgrade-button"]').exists()).toBe(true)
  })
})
