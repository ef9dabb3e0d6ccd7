// What every data page does: load for the current route, keep loading/error state, and let only the
// newest answer through. Its pages (`?page=`) are useRoutePages().
import { ref, watch } from 'vue'
import { apiError } from '@/api/errors'

/**
 * Loads `fetcher()` now and whenever `key()` or `enabled()` changes. An answer that arrives after a
 * newer request started is dropped (a quick second search must not be overwritten by the first).
 *
 * @param {() => any} key reactive source (route params and query); a change reloads
 * @param {() => Promise<any>} fetcher
 * @param {{enabled?: () => boolean, onError?: (info: ReturnType<typeof apiError>) => any}} [options]
 *   enabled: when false, nothing is requested; onError: return true when it dealt with the error
 *   itself (then `error` stays empty)
 * @returns {{data, loading, error, reload}} refs; `error` is apiError()'s {status, detail, ...}
 */
export function useDataQuery(key, fetcher, { enabled = () => true, onError } = {}) {
  const data = ref(null)
  const loading = ref(false)
  const error = ref(null)
  let latest = 0

  async function load() {
    const ticket = ++latest
    if (!enabled()) {
      loading.value = false
      return
    }
    loading.value = true
    error.value = null
    try {
      const answer = await fetcher()
      if (ticket === latest) data.value = answer
    } catch (err) {
      if (ticket !== latest) return
      const info = apiError(err)
      data.value = null
      const handled = onError ? await onError(info) : false
      if (!handled && ticket === latest) error.value = info
    } finally {
      if (ticket === latest) loading.value = false
    }
  }

  watch([() => JSON.stringify(key() ?? null), () => Boolean(enabled())], load, { immediate: true })

  return { data, loading, error, reload: load }
}
