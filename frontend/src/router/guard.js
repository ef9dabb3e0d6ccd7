// The one place that maps a tier to what a route allows. The server still decides every request.

/**
 * @param {'guest'|'free'|'premium'} tier
 * @param {undefined|'user'|'premium'} required  the route's meta.requires
 * @returns {'ok'|'sign-in'|'upgrade'}
 */
export function accessFor(tier, required) {
  if (!required) return 'ok'
  if (tier !== 'free' && tier !== 'premium') return 'sign-in'
  if (required === 'premium' && tier !== 'premium') return 'upgrade'
  return 'ok'
}

/** A same-site path only: never send the browser elsewhere after sign-in. */
export function safeNext(next, fallback = '/account') {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : fallback
}

/**
 * router.beforeEach handler. Loads the account once, then:
 * - meta.requires 'user' and guest → /login?next=…
 * - meta.guestOnly (sign-in page) and signed in → next or /account
 * - meta.requires 'premium' → the page opens and shows <PremiumGate> (sign-in prompt or upgrade)
 *   decided by the same accessFor(), so a free user sees why rather than a bare redirect.
 */
export function createTierGuard(useAccount) {
  return async (to) => {
    const account = useAccount()
    await account.ensureLoaded()
    if (to.meta.guestOnly && account.isSignedIn) {
      return safeNext(to.query.next)
    }
    if (to.meta.requires === 'user' && accessFor(account.tier, 'user') === 'sign-in') {
      return { name: 'login', query: { next: to.fullPath } }
    }
    return true
  }
}
