// Mounts one Stripe card element into a DOM node and destroys it with the component. The element
// brings its own labelled fields (Stripe: an iframe; the offline stand-in: labelled <input>s).
import { onBeforeUnmount, ref, shallowRef } from 'vue'
import { loadStripeFromConfig } from '@/api/stripeJs'

const CARD_STYLE = {
  base: { fontSize: '16px', color: '#1d1d1d', '::placeholder': { color: '#8a8a8a' } },
  invalid: { color: '#c10015' },
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
      element.on('change', (event) => {
        error.value = event?.error?.message ?? ''
        complete.value = Boolean(event?.complete)
      })
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
