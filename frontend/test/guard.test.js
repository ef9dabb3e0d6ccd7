import { describe, expect, it, vi } from 'vitest'
import { accessFor, createTierGuard, safeNext } from '@/router/guard'

describe('accessFor', () => {
  it.each([
    ['guest', undefined, 'ok'],
    ['guest', 'user', 'sign-in'],
    ['guest', 'premium', 'sign-in'],
    ['free', 'user', 'ok'],
    ['free', 'premium', 'upgrade'],
    ['premium', 'premium', 'ok'],
    ['premium', 'user', 'ok'],
  ])('%s on a route requiring %s → %s', (tier, required, expected) => {
    expect(accessFor(tier, required)).toBe(expected)
  })
})

describe('safeNext', () => {
  it('keeps same-site paths only', () => {
    expect(safeNext('/filers/1')).toBe('/filers/1')
    expect(safeNext('//evil.example/')).toBe('/account')
    expect(safeNext('https://evil.example/')).toBe('/account')
    expect(safeNext(undefined, '/')).toBe('/')
  })
})

function fakeAccount(tier) {
  return {
    tier,
    isSignedIn: tier !== 'guest',
    ensureLoaded: vi.fn(async () => null),
  }
}

const route = (path, meta = {}, query = {}) => ({ fullPath: path, meta, query })

describe('createTierGuard', () => {
  it('loads the account before deciding', async () => {
    const account = fakeAccount('guest')
    await createTierGuard(() => account)(route('/'))
    expect(account.ensureLoaded).toHaveBeenCalledOnce()
  })

  it('sends guests from signed-in pages to sign in, keeping where they were going', async () => {
    const guard = createTierGuard(() => fakeAccount('guest'))
    expect(await guard(route('/account', { requires: 'user' }))).toEqual({
      name: 'login',
      query: { next: '/account' },
    })
  })

  it('lets premium pages open for every tier (the page shows the gate)', async () => {
    for (const tier of ['guest', 'free', 'premium']) {
      const guard = createTierGuard(() => fakeAccount(tier))
      expect(await guard(route('/filers/1/holdings', { requires: 'premium' }))).toBe(true)
    }
  })

  it('sends signed-in users away from the sign-in page', async () => {
    const guard = createTierGuard(() => fakeAccount('free'))
    expect(await guard(route('/login', { guestOnly: true }, { next: '/premium' }))).toBe('/premium')
    expect(await guard(route('/login', { guestOnly: true }))).toBe('/account')
  })

  it('lets free users into signed-in pages', async () => {
    const guard = createTierGuard(() => fakeAccount('free'))
    expect(await guard(route('/premium', { requires: 'user' }))).toBe(true)
  })
})
