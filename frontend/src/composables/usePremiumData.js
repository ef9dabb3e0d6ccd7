// Loads a Premium-only resource for the current page, honouring the tier and the server's word:
// no request for guests or free users, and a 401/403 answer re-reads the account and shows why.
import { computed, ref } from 'vue'
import { accessFor } from '@/router/guard'
import { useAccountStore } from '@/stores/account'
import { useDataQuery } from './useDataQuery'

/**
 * @param {() => any} key reactive source; a change reloads (route params and query)
 * @param {() => Promise<any>} fetcher
 */
export function usePremiumData(key, fetcher) {
  const account = useAccountStore()
  const deniedReason = ref('')
  const access = computed(() => accessFor(account.tier, 'premium'))

  const query = useDataQuery(key, fetcher, {
    enabled: () => access.value === 'ok',
    async onError(info) {
      if (info.status !== 401 && info.status !== 403) return false
      // The server says no (session ended, subscription lapsed): believe it.
      deniedReason.value = info.detail
      await account.refresh()
      // The gate shows the reason once the account says so; if the account still reads premium,
      // the page itself must say why it is empty.
      return access.value !== 'ok'
    },
  })

  return { ...query, access, deniedReason }
}
