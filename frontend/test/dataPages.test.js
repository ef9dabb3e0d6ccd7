import { beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { accountPayload, flush, httpError, PlainPage } from './helpers'

vi.mock('@/api/account', () => ({ fetchAccount: vi.fn() }))
vi.mock('@/api/filings', () => ({
  searchFilers: vi.fn(),
  fetchFiler: vi.fn(),
  fetchHoldings: vi.fn(),
  fetchHolders: vi.fn(),
  holdingsCsvUrl: () => '/csv',
}))

const { fetchAccount } = await import('@/api/account')
const filings = await import('@/api/filings')
const { useAccountStore } = await import('@/stores/account')
const { useDataQuery } = await import('@/composables/useDataQuery')
const { useRoutePages } = await import('@/composables/useRoutePages')
const { default: FilersPage } = await import('@/pages/FilersPage.vue')
const { default: FilerPage } = await import('@/pages/FilerPage.vue')
const { default: SecurityPage } = await import('@/pages/SecurityPage.vue')

let router

/** `later`: the tier GET /api/account/ reports after the page opened (a lapsed subscription). */
async function mountAt(path, component, tier = 'free', { later = tier } = {}) {
  const blank = { render: () => null }
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/filers', component: FilersPage },
      { path: '/filers/:cik', component: FilerPage },
      { path: '/securities/:cusip', component: SecurityPage },
      { path: '/:rest(.*)*', name: 'login', component: blank },
    ],
  })
  await router.push(path)
  const pinia = createPinia()
  setActivePinia(pinia)
  fetchAccount.mockResolvedValue(accountPayload(later))
  fetchAccount.mockResolvedValueOnce(accountPayload(tier))
  await useAccountStore().refresh()
  const wrapper = mount(component, {
    global: { plugins: [pinia, router], stubs: { QPage: PlainPage } },
    attachTo: document.body,
  })
  await flush()
  return wrapper
}

/** A promise and the functions that settle it. */
function deferred() {
  let resolve, reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const filer = (cik, name) => ({ cik, name })

beforeEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
})

describe('useDataQuery', () => {
  it('keeps the newest answer when an older request finishes last', async () => {
    const key = ref('a')
    const answers = { a: deferred(), b: deferred() }
    let query
    mount({
      setup() {
        query = useDataQuery(
          () => key.value,
          () => answers[key.value].promise,
        )
        return () => null
      },
    })
    key.value = 'b'
    await nextTick()
    answers.b.resolve('answer b')
    await flush()
    answers.a.resolve('answer a')
    await flush()
    expect(query.data.value).toBe('answer b')
    expect(query.loading.value).toBe(false)

    answers.a = deferred()
    key.value = 'a'
    await nextTick()
    key.value = 'b'
    answers.b = deferred()
    await nextTick()
    answers.a.reject(httpError(500))
    answers.b.resolve('answer b2')
    await flush()
    expect(query.error.value).toBeNull()
    expect(query.data.value).toBe('answer b2')
  })

  it('asks nothing while disabled', async () => {
    const fetcher = vi.fn(async () => 1)
    const enabled = ref(false)
    mount({
      setup() {
        useDataQuery(() => 'k', fetcher, { enabled: () => enabled.value })
        return () => null
      },
    })
    await flush()
    expect(fetcher).not.toHaveBeenCalled()
    enabled.value = true
    await flush()
    expect(fetcher).toHaveBeenCalledOnce()
  })
})

describe('useRoutePages', () => {
  it('counts the pages from a last page opened directly (?page=3)', async () => {
    router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/x', component: {} }] })
    await router.push('/x?page=3')
    const data = ref(null)
    let pages
    mount(
      {
        setup() {
          pages = useRoutePages(data)
          return () => null
        },
      },
      { global: { plugins: [router] } },
    )
    data.value = { count: 45, next: null, previous: '/x?page=2', results: Array(5).fill({}) }
    await flush()
    expect(pages.currentPage.value).toBe(3)
    expect(pages.pages.value).toBe(3)
  })
})

describe('FilersPage', () => {
  it('shows the search that was asked last, not the answer that came last', async () => {
    filings.searchFilers.mockResolvedValueOnce({ count: 0, next: null, previous: null, results: [] })
    const wrapper = await mountAt('/filers', FilersPage)
    const slow = deferred()
    const fast = deferred()
    filings.searchFilers.mockReturnValueOnce(slow.promise).mockReturnValueOnce(fast.promise)
    await router.push('/filers?q=slow')
    await router.push('/filers?q=fast')
    fast.resolve({ count: 1, next: null, previous: null, results: [filer('2', 'Fast Capital')] })
    await flush()
    slow.resolve({ count: 1, next: null, previous: null, results: [filer('1', 'Slow Capital')] })
    await flush()
    expect(wrapper.get('[data-test="filer-results"]').text()).toContain('Fast Capital')
    expect(wrapper.text()).not.toContain('Slow Capital')
  })

  it('asks again when the same search is submitted again, e.g. after a failure', async () => {
    filings.searchFilers.mockRejectedValueOnce(httpError(503, { detail: 'Down for a moment.' }))
    const wrapper = await mountAt('/filers?q=acorn', FilersPage)
    expect(wrapper.get('[data-test="data-error"]').text()).toContain('Down for a moment.')
    filings.searchFilers.mockResolvedValueOnce({
      count: 1,
      next: null,
      previous: null,
      results: [filer('3', 'Acorn')],
    })
    await wrapper.get('[data-test="filer-search"]').trigger('submit')
    await flush()
    expect(filings.searchFilers).toHaveBeenCalledTimes(2)
    expect(wrapper.get('[data-test="filer-results"]').text()).toContain('Acorn')
    expect(wrapper.find('[data-test="data-error"]').exists()).toBe(false)
  })

  it('offers "Try again" when the server failed, and shows the 429 sentence in the quota bar only', async () => {
    filings.searchFilers.mockRejectedValueOnce(httpError(502, { detail: 'Bad gateway.' }))
    const wrapper = await mountAt('/filers', FilersPage)
    filings.searchFilers.mockRejectedValueOnce(
      httpError(429, { detail: 'Daily quota used up. Premium lifts the limit.' }, { 'retry-after': '60' }),
    )
    await wrapper.get('[data-test="data-retry"]').trigger('click')
    await flush()
    expect(filings.searchFilers).toHaveBeenCalledTimes(2)
    expect(wrapper.get('[data-test="quota-exceeded"]').text()).toContain('Premium lifts the limit.')
    expect(wrapper.find('[data-test="data-error"]').exists()).toBe(false)
    expect(wrapper.find('[data-test="filer-results"]').exists()).toBe(false)
  })
})

describe('FilerPage', () => {
  it('says "Not found." for an unknown CIK, with no retry button', async () => {
    filings.fetchFiler.mockRejectedValueOnce(httpError(404))
    const wrapper = await mountAt('/filers/999', FilerPage)
    expect(wrapper.get('[data-test="data-error"]').text()).toBe('Not found.')
    expect(wrapper.find('[data-test="data-retry"]').exists()).toBe(false)
    expect(wrapper.find('[data-test="top-holdings"]').exists()).toBe(false)
  })
})

describe('premium pages', () => {
  it('ask nothing for a free user and show the upgrade gate', async () => {
    const wrapper = await mountAt('/securities/037833100', SecurityPage, 'free')
    expect(filings.fetchHolders).not.toHaveBeenCalled()
    expect(wrapper.get('[data-test="premium-gate"]').attributes('data-access')).toBe('upgrade')
  })

  it('show the gate with the server sentence when a lapsed subscription gets a 403', async () => {
    filings.fetchHolders.mockRejectedValueOnce(httpError(403, { detail: 'Premium is required.' }))
    const wrapper = await mountAt('/securities/037833100', SecurityPage, 'premium', { later: 'free' })
    await flush()
    await flush()
    const gate = wrapper.get('[data-test="premium-gate"]')
    expect(gate.text()).toContain('Premium is required.')
  })

  it('say why the page is empty when the server refuses but the account still reads premium', async () => {
    filings.fetchHolders.mockRejectedValueOnce(httpError(403, { detail: 'Premium is required.' }))
    const wrapper = await mountAt('/securities/037833100', SecurityPage, 'premium')
    await flush()
    await flush()
    expect(wrapper.find('[data-test="premium-gate"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="data-error"]').text()).toContain('Premium is required.')
  })
})
