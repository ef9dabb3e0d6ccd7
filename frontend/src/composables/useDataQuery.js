// What every data page does: load for the current route, keep loading/error state, let only the
// newest answer through, and turn a paginated answer ({count, next, previous, results}) into pages.
import { computed, ref, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
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

/** The rows of a paginated answer (or of a plain list). */
export function resultsOf(answer) {
  if (Array.isArray(answer)) return answer
  return answer?.results ?? []
}

/**
 * Pages of a paginated answer whose page number is `?page=` in the URL. The server decides the page
 * size: a page with a `next` link is full; a last page N tells it as (count - its rows) / (N - 1).
 *
 * @param {import('vue').Ref<any>} data the answer (from useDataQuery)
 */
export function useRoutePages(data) {
  const route = useRoute()
  const router = useRouter()
  const currentPage = computed(() => Math.max(1, Number(route.query.page) || 1))
  const results = computed(() => resultsOf(data.value))
  const pageSize = ref(null)

  watch(data, (answer) => {
    const rows = resultsOf(answer).length
    if (!answer || !rows) return
    if (answer.next) pageSize.value = rows
    else if (!pageSize.value && currentPage.value > 1 && answer.count > rows) {
      const size = (answer.count - rows) / (currentPage.value - 1)
      if (Number.isInteger(size) && size >= rows) pageSize.value = size
    }
  })

  const pages = computed(() => {
    const count = data.value?.count
    if (!count) return 1
    return Math.max(1, Math.ceil(count / (pageSize.value || results.value.length || 1)))
  })

  function goTo(n) {
    return router.push({ query: { ...route.query, page: n > 1 ? n : undefined } })
  }

  return { currentPage, results, pages, goTo }
}
