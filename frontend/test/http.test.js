import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { api, installQuotaInterceptor, readCookie } from '@/boot/axios'
import { useQuotaStore } from '@/stores/quota'
import { injectStripeScript, isOfficialStripeJs, loadStripeFromConfig } from '@/api/stripeJs'
import { CONFIG } from './helpers'

function clearCookies() {
  for (const c of document.cookie.split(';')) {
    const name = c.split('=')[0].trim()
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`
  }
}

describe('the HTTP client', () => {
  let seen
  const originalAdapter = api.defaults.adapter

  beforeEach(() => {
    clearCookies()
    seen = []
    api.defaults.adapter = async (config) => {
      seen.push({ method: config.method, url: config.url, csrf: config.headers.get('X-CSRFToken') })
      if (config.url === '/api/auth/csrf/') document.cookie = 'csrftoken=tok123; path=/'
      return { data: {}, status: 200, statusText: 'OK', headers: {}, config }
    }
  })
  afterEach(() => {
    api.defaults.adapter = originalAdapter
    clearCookies()
  })

  it('reads cookies by name', () => {
    expect(readCookie('csrftoken', 'a=1; csrftoken=abc%3D; b=2')).toBe('abc=')
    expect(readCookie('missing', 'a=1')).toBeNull()
  })

  it('sends credentials', () => {
    expect(api.defaults.withCredentials).toBe(true)
  })

  it('gets the CSRF cookie first, then sends it as X-CSRFToken on unsafe methods', async () => {
    await api.post('/api/auth/logout/')
    expect(seen.map((r) => r.url)).toEqual(['/api/auth/csrf/', '/api/auth/logout/'])
    expect(seen[1].csrf).toBe('tok123')
  })

  it('sends no CSRF header on GET and asks for the cookie only once', async () => {
    await api.get('/api/account/')
    expect(seen[0].csrf).toBeFalsy()
    await Promise.all([api.post('/a/'), api.post('/b/')])
    expect(seen.filter((r) => r.url === '/api/auth/csrf/')).toHaveLength(1)
  })

  it('feeds rate-limit headers to the quota store', async () => {
    setActivePinia(createPinia())
    const quota = useQuotaStore()
    const id = installQuotaInterceptor(api, quota)
    api.defaults.adapter = async (config) => ({
      data: {},
      status: 200,
      statusText: 'OK',
      headers: { 'x-ratelimit-limit': '200', 'x-ratelimit-remaining': '199' },
      config,
    })
    await api.get('/api/filers/')
    api.interceptors.response.eject(id)
    expect(quota.remaining).toBe(199)
  })
})

describe('loading Stripe.js', () => {
  afterEach(() => {
    delete window.Stripe
    document.head.innerHTML = ''
  })

  it('recognises the official URL', () => {
    expect(isOfficialStripeJs('https://js.stripe.com/v3/')).toBe(true)
    expect(isOfficialStripeJs('/js.stripe.com/v3/')).toBe(false)
  })

  it('lets stripe-js load the official script itself', async () => {
    const load = vi.fn(async () => ({ elements() {} }))
    await loadStripeFromConfig(CONFIG, { load })
    expect(load).toHaveBeenCalledWith('pk_x_unit')
    expect(document.querySelector('script')).toBeNull()
  })

  it('injects a same-origin stand-in and waits for window.Stripe before loadStripe', async () => {
    const load = vi.fn(async () => window.Stripe('pk'))
    const pending = loadStripeFromConfig({ ...CONFIG, js_url: '/js.stripe.com/v3/' }, { load })
    const script = document.querySelector('script')
    expect(script.getAttribute('src')).toBe('/js.stripe.com/v3/')
    expect(load).not.toHaveBeenCalled()
    window.Stripe = vi.fn(() => ({ fake: true }))
    script.dispatchEvent(new Event('load'))
    expect(await pending).toEqual({ fake: true })
    expect(load).toHaveBeenCalledOnce()
  })

  it('fails with a sentence when the script cannot load', async () => {
    const pending = injectStripeScript('/broken.js')
    document.querySelector('script').dispatchEvent(new Event('error'))
    await expect(pending).rejects.toThrow('Stripe.js could not be loaded.')
  })
})
