// Loads a Premium-only resource for the current page, honouring the tier and the server's word:
// no request for guests or free users, and a 401/403 answer re-reads the account and shows why.
import { computed, ref, watch } from 'vue'
import { accessFor } from '@/router/guard'
import { apiError } from '@/api/errors'
import { useAccountStore } from '@/stores/account'

/**
 * @param {() => any} key reactive source; a change reloads (route params and query)
 * @param {() => Promise<any>} fetcher
 */
export function usePremiumData(key, fetcher) {
  const account = useAccountStore()
  const data = ref(null)
  const loading = ref(false)
  const error = ref(null)
  const deniedReason = ref('')

  const access = computed(() => accessFor(account.tier, 'premium'))

  async function load() {
    if (access.value !== 'ok') return
    loading.value = true
    error.value = null
    try {
      data.value = await fetcher()
    } catch (err) {
      const info = apiError(err)
      data.value = null
      if (info.status === 401 || info.status === 403) {
        // The server says no (session ended, subscription lapsed): believe it.
        deniedReason.value = info.detail
        await account.refresh()
      } else {
        error.value = info
      }
    } finally {
      loading.value = false
    }
  }

  watch([key, access], load, { immediate: true })

  return { data, loading, error, access, deniedReason, reload: load }
}
