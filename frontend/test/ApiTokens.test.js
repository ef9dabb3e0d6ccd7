import { afterEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { flush } from './helpers'

const PAIR = {
  access: 'aaa.bbb.ccc',
  refresh: 'rrr.sss.ttt',
  access_expires: '2026-12-01T10:15:00Z',
  refresh_expires: '2026-12-31T10:00:00Z',
}

vi.mock('@/api/auth', () => ({
  createToken: vi.fn(async () => PAIR),
  revokeToken: vi.fn(async () => undefined),
}))

const auth = await import('@/api/auth')
const { default: ApiTokens } = await import('@/components/ApiTokens.vue')

afterEach(() => vi.clearAllMocks())

describe('ApiTokens', () => {
  it('says that signing out does not revoke API tokens, and how to stop a script', () => {
    const note = mount(ApiTokens).get('[data-test="token-logout-note"]').text()
    expect(note).toContain('Signing out ends this browser session only')
    expect(note).toContain('does not revoke API tokens')
    expect(note).toContain('revoke its refresh token below')
  })

  it('shows a new pair once and revokes the refresh token it holds', async () => {
    const wrapper = mount(ApiTokens)
    await wrapper.get('[data-test="token-create"]').trigger('click')
    await flush()
    expect(auth.createToken).toHaveBeenCalledTimes(1)
    expect(wrapper.find('[data-test="token-created"]').exists()).toBe(true)
    expect(wrapper.get('[data-test="token-revoke-input"]').element.value).toBe(PAIR.refresh)

    await wrapper.get('[data-test="token-revoke-form"]').trigger('submit')
    await flush()
    expect(auth.revokeToken).toHaveBeenCalledWith(PAIR.refresh)
    expect(wrapper.find('[data-test="token-created"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="token-notice"]').text()).toBe('Token revoked. It will not work again.')
  })
})
