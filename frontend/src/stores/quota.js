// Today's data-API quota, read from X-RateLimit-* headers of the last data response.
import { acceptHMRUpdate, defineStore } from 'pinia'
import { computed, ref } from 'vue'

const DATA_URL = /\/api\/(filers|securities)\//

function header(headers, name) {
  if (!headers) return undefined
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined
  return headers[name] ?? headers[name.toLowerCase()]
}

export const useQuotaStore = defineStore('quota', () => {
  const known = ref(false)
  const unlimited = ref(false)
  const limit = ref(null)
  const remaining = ref(null)
  const exceeded = ref(false)
  const message = ref('')

  const used = computed(() =>
    limit.value === null || remaining.value === null ? null : Math.max(0, limit.value - remaining.value),
  )
  const ratioUsed = computed(() => {
    if (unlimited.value || !limit.value) return 0
    return Math.min(1, (limit.value - (remaining.value ?? 0)) / limit.value)
  })
  const label = computed(() => {
    if (!known.value) return ''
    if (unlimited.value) return 'Requests today: unlimited'
    return `${remaining.value} of ${limit.value} requests left today`
  })

  function fromHeaders(headers, { isData = true, status = 200 } = {}) {
    const rawLimit = header(headers, 'x-ratelimit-limit')
    const rawRemaining = header(headers, 'x-ratelimit-remaining')
    if (rawLimit === undefined || rawLimit === null) {
      // Premium answers carry no limit headers; other answers say nothing about quota.
      if (isData && status < 400) {
        known.value = true
        unlimited.value = true
        limit.value = remaining.value = null
        exceeded.value = false
      }
      return
    }
    known.value = true
    if (String(rawLimit).toLowerCase() === 'unlimited') {
      unlimited.value = true
      limit.value = remaining.value = null
      exceeded.value = false
      return
    }
    unlimited.value = false
    limit.value = Number(rawLimit)
    remaining.value = rawRemaining === undefined ? null : Number(rawRemaining)
    exceeded.value = status === 429 || remaining.value === 0
  }

  /** Forgets what the last answers said: they were counted for another tier or person. */
  function reset() {
    known.value = false
    unlimited.value = false
    limit.value = null
    remaining.value = null
    exceeded.value = false
    message.value = ''
  }

  function fromResponse(response) {
    const url = response?.config?.url ?? ''
    const isData = DATA_URL.test(url)
    if (!isData && !header(response?.headers, 'x-ratelimit-limit')) return
    fromHeaders(response.headers, { isData, status: response.status })
    if (response.status === 429) {
      exceeded.value = true
      message.value = response.data?.detail ?? ''
    }
  }

  return {
    known,
    unlimited,
    limit,
    remaining,
    used,
    exceeded,
    message,
    ratioUsed,
    label,
    fromHeaders,
    fromResponse,
    reset,
  }
})

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useQuotaStore, import.meta.hot))
