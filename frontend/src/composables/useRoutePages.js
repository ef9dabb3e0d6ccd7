// The `?page=` of a data page: turns a paginated answer ({count, next, previous, results}) into rows,
// a page count and a way to go to page N, with the page number kept in the URL.
import { computed, ref, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'

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
