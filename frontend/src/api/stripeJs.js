// Loads Stripe.js (the browser half of Stripe) on demand, from the js_url of GET /api/stripe/config/.
// `@stripe/stripe-js/pure` injects nothing on import; `loadStripe` reuses an existing
// window.Stripe, which is how the same-origin stand-in (dev/tests) takes the place of Stripe.js.
import { loadStripe } from '@stripe/stripe-js/pure'

const OFFICIAL_ORIGIN = /^https:\/\/js\.stripe\.com\//

export function isOfficialStripeJs(url) {
  return !url || OFFICIAL_ORIGIN.test(url)
}

const pending = new Map()

/** Adds <script src=url> once and resolves when window.Stripe exists. */
export function injectStripeScript(url, { win = window, timeoutMs = 15000 } = {}) {
  if (win.Stripe) return Promise.resolve(win.Stripe)
  if (pending.has(url)) return pending.get(url)
  const promise = new Promise((resolve, reject) => {
    const doc = win.document
    const script = doc.createElement('script')
    script.src = url
    script.async = true
    const timer = setTimeout(() => fail(new Error('Stripe.js took too long to load.')), timeoutMs)
    function fail(error) {
      clearTimeout(timer)
      pending.delete(url)
      script.remove()
      reject(error)
    }
    script.addEventListener('load', () => {
      clearTimeout(timer)
      if (win.Stripe) resolve(win.Stripe)
      else fail(new Error('Stripe.js loaded but did not define Stripe.'))
    })
    script.addEventListener('error', () => fail(new Error('Stripe.js could not be loaded.')))
    ;(doc.head || doc.body).appendChild(script)
  })
  pending.set(url, promise)
  return promise
}

/**
 * config = GET /api/stripe/config/ → a Stripe instance.
 * Official URL: stripe-js injects its own script. Any other URL (the stand-in at
 * /js.stripe.com/v3/): inject it ourselves first; stripe-js then uses window.Stripe.
 */
export async function loadStripeFromConfig(config, { load = loadStripe, win = window } = {}) {
  if (!config?.publishable_key) throw new Error('Payments are not configured on the server.')
  if (!isOfficialStripeJs(config.js_url)) await injectStripeScript(config.js_url, { win })
  const stripe = await load(config.publishable_key)
  if (!stripe) throw new Error('Stripe.js could not be loaded.')
  return stripe
}
