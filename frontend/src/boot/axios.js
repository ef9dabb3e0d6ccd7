// The one HTTP client of the app. Same-origin session cookies, Django's CSRF header on
// unsafe methods, and the rate-limit headers of every data response fed to the quota store.
import axios from 'axios'
import { useQuotaStore } from '@/stores/quota'

const SAFE_METHODS = new Set(['get', 'head', 'options', 'trace'])
export const CSRF_COOKIE = 'csrftoken'
export const CSRF_URL = '/api/auth/csrf/'

export function readCookie(name, cookieString = globalThis.document?.cookie ?? '') {
  for (const part of cookieString.split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return decodeURIComponent(rest.join('='))
  }
  return null
}

export const api = axios.create({
  withCredentials: true,
  headers: { Accept: 'application/json' },
  // Django's names, not axios' XSRF defaults; handled by the interceptor below.
  xsrfCookieName: null,
  xsrfHeaderName: null,
})

let csrfPromise = null

/** Makes sure the `csrftoken` cookie exists (one request, however many callers). */
export async function ensureCsrfToken() {
  const existing = readCookie(CSRF_COOKIE)
  if (existing) return existing
  csrfPromise ??= api.get(CSRF_URL).finally(() => {
    csrfPromise = null
  })
  await csrfPromise
  return readCookie(CSRF_COOKIE)
}

api.interceptors.request.use(async (config) => {
  const method = (config.method || 'get').toLowerCase()
  if (!SAFE_METHODS.has(method)) {
    const token = await ensureCsrfToken()
    if (token) config.headers.set('X-CSRFToken', token)
  }
  return config
})

/** Registers the quota interceptor once Pinia exists (called by the boot function). */
export function installQuotaInterceptor(client, quotaStore) {
  const record = (response) => {
    if (response) quotaStore.fromResponse(response)
  }
  return client.interceptors.response.use(
    (response) => {
      record(response)
      return response
    },
    (error) => {
      record(error.response)
      return Promise.reject(error)
    },
  )
}

export default ({ app, store }) => {
  installQuotaInterceptor(api, useQuotaStore(store))
  app.config.globalProperties.$api = api
}
