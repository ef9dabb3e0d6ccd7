// Mounts one Stripe card element into a DOM node and destroys it with the component.
import { onBeforeUnmount, ref, shallowRef } from 'vue'
import { loadStripeFromConfig } from './stripeLoader'

const CARD_STYLE = {
  base: { fontSize: '16px', color: '#1d1d1d', '::placeholder': { color: '#8a8a8a' } },
  invalid: { color: '#c10015' },
}

// Stripe's real card field is an iframe with its own labels. Offline stand-ins render plain
// <input>s (stock localstripe: placeholder only; the project's fakestripe: aria-label and
// name="fakestripe-<field>"): make sure each has a name people can hear and a stable
// data-test="card-<field>" for browser tests.
const INPUT_LABELS = {
  number: 'Card number',
  exp_month: 'Expiry month (MM)',
  exp_year: 'Expiry year (YY)',
  cvc: 'CVC',
  postal_code: 'Postal code',
}

function fieldOf(input) {
  const name = (input.getAttribute('name') || '').replace(/^.*-/, '')
  if (INPUT_LABELS[name]) return name
  const placeholder = input.getAttribute('placeholder')
  return INPUT_LABELS[placeholder] ? placeholder : null
}

function labelPlainInputs(el) {
  if (!el?.querySelectorAll) return
  for (const input of el.querySelectorAll('input')) {
    const field = fieldOf(input)
    if (!field) continue
    if (!input.hasAttribute('aria-label')) input.setAttribute('aria-label', INPUT_LABELS[field])
    if (!input.hasAttribute('data-test')) input.setAttribute('data-test', `card-${field.replace('_', '-')}`)
    if (!input.hasAttribute('inputmode') && field !== 'postal_code')
      input.setAttribute('inputmode', 'numeric')
  }
}

/**
 * @param {{load?: Function}} [options] load: how to get a Stripe instance (tests pass a fake)
 * @returns refs {stripe, card, ready, error, complete} and mount(el, config) / destroy()
 */
export function useStripeCard({ load = loadStripeFromConfig } = {}) {
  const stripe = shallowRef(null)
  const card = shallowRef(null)
  const ready = ref(false)
  const error = ref('')
  const complete = ref(false)
  let destroyed = false

  async function mount(el, config) {
    error.value = ''
    try {
      const instance = await load(config)
      if (destroyed) return
      const element = instance.elements().create('card', { style: CARD_STYLE, hidePostalCode: false })
      element.mount(el)
      labelPlainInputs(el)
      if (typeof element.on === 'function') {
        // The stand-in calls handlers without an event; Stripe passes {complete, error}.
        element.on('change', (event) => {
          error.value = event?.error?.message ?? ''
          complete.value = Boolean(event?.complete)
        })
      }
      stripe.value = instance
      card.value = element
      ready.value = true
    } catch (err) {
      error.value = err?.message || 'The card form could not be loaded.'
    }
  }

  function destroy() {
    destroyed = true
    const element = card.value
    card.value = null
    ready.value = false
    if (!element) return
    if (typeof element.destroy === 'function') element.destroy()
    else if (typeof element.unmount === 'function') element.unmount()
  }

  onBeforeUnmount(destroy)

  return { stripe, card, ready, error, complete, mount, destroy }
}
