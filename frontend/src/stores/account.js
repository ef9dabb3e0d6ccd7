// Who is signed in and at which tier, as GET /api/account/ says (401 = guest). Also the one place the
// subscription status object lives: from the account payload, then from each billing answer.
import { acceptHMRUpdate, defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { fetchAccount } from '@/api/account'
import { logout as apiLogout } from '@/api/auth'
import { apiError } from '@/api/errors'
import { useQuotaStore } from './quota'

export const useAccountStore = defineStore('account', () => {
  const user = ref(null)
  const loaded = ref(false)
  const error = ref(null)
  let inflight = null

  const tier = computed(() => {
    if (!user.value) return 'guest'
    return user.value.tier === 'premium' ? 'premium' : 'free'
  })
  const isSignedIn = computed(() => user.value !== null)
  const isPremium = computed(() => tier.value === 'premium')
  const subscription = computed(() => user.value?.subscription ?? null)
  const usage = computed(() => user.value?.usage ?? null)

  // The quota shown belongs to a tier (guest by IP, free per user, premium unlimited): once the tier
  // changes (sign-out, purchase, lapsed session) the last answer's numbers are someone else's.
  watch(tier, () => useQuotaStore().reset(), { flush: 'sync' })

  /** Reads the account from the server; concurrent callers share one request. */
  function refresh() {
    inflight ??= (async () => {
      try {
        user.value = await fetchAccount()
        error.value = null
        loaded.value = true
      } catch (err) {
        const { status, detail } = apiError(err)
        // 401/403: nobody signed in. Anything else (network, 5xx) is no answer: keep what we had,
        // say why, and let the next ensureLoaded() ask again rather than take everyone for a guest.
        if (status === 401 || status === 403) {
          user.value = null
          error.value = null
          loaded.value = true
        } else error.value = detail
      } finally {
        inflight = null
      }
      return user.value
    })()
    return inflight
  }

  /** Loads once; later calls reuse the answer (the guard calls this on every navigation).
   *  After a failed first load (no answer yet) it asks again. */
  async function ensureLoaded() {
    if (!loaded.value) await refresh()
    return user.value
  }

  /** A status object from a billing endpoint (see stores/billing.js): the newest word on the subscription. */
  function setSubscription(status) {
    if (!user.value || !status) return
    user.value = {
      ...user.value,
      subscription: status,
      tier: status.premium ? 'premium' : 'free',
    }
  }

  async function logout() {
    await apiLogout()
    user.value = null
    loaded.value = true
  }

  return {
    user,
    loaded,
    error,
    tier,
    isSignedIn,
    isPremium,
    subscription,
    usage,
    refresh,
    ensureLoaded,
    setSubscription,
    logout,
  }
})

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useAccountStore, import.meta.hot))
