// The card-collecting building block of every card form (buy Premium, change the card, pay an open
// invoice): Stripe's Payment Element, without the markup (that is PaymentElementForm.vue).
// It loads Stripe.js from the server's config (only on pages that take a card), mounts the element
// deferred (`mode` 'subscription', 'payment' or 'setup') or from an intent, validates it
// (elements.submit()), confirms a PaymentIntent (confirmPayment) or a SetupIntent (confirmSetup)
// with it, runs the bank's next step for an intent the server confirmed (handleNextAction), and
// destroys it with the component. The card never touches our server.
import { onBeforeUnmount, ref, shallowRef } from 'vue'
import { apiError } from '@/api/errors'
import { loadStripeFromConfig } from '@/api/stripeJs'

export const LOAD_FAILED = 'The payment form could not be loaded.'
export const NOT_READY = 'The payment form is still loading. Please wait a moment.'
// Shown for what only a developer could fix (Stripe.js rejected the call): nothing was charged.
export const UNEXPECTED = 'The payment could not be started. Nothing was charged; please try again.'
export const CHECK_DETAILS = 'Please check the card details.'

// The app's colours, so the element (an iframe on Stripe) looks like the rest of the page.
const APPEARANCE = {
  theme: 'stripe',
  variables: {
    colorPrimary: '#1d3557',
    colorDanger: '#c10015',
    colorText: '#1d1d1d',
    fontSizeBase: '16px',
    borderRadius: '4px',
  },
}

const SETUP_SECRET = /^seti_[A-Za-z0-9]+_secret_/
const PAYMENT_SECRET = /^pi_[A-Za-z0-9]+_secret_/

/**
 * Stripe's error object → {message, type, code}; the message is Stripe's, for the customer, or
 * `fallback` (null: the flow knows best what to say, e.g. "The payment was not completed.").
 */
function errorOf(error, fallback = null) {
  return {
    message: (typeof error?.message === 'string' && error.message) || fallback,
    type: error?.type ?? null,
    code: error?.code ?? error?.decline_code ?? null,
  }
}

/**
 * The bank's next step for an intent the server already confirmed with a saved card (an invoice
 * paid with the default card, or with a card just saved, that needs 3-D Secure):
 * stripe.handleNextAction() shows the challenge in the page. → `{intent, status}` or `{error}`;
 * never throws.
 */
export async function confirmNextAction(stripe, clientSecret) {
  if (!stripe) return { error: errorOf(null, LOAD_FAILED) }
  if (!PAYMENT_SECRET.test(clientSecret ?? '') && !SETUP_SECRET.test(clientSecret ?? ''))
    return { error: errorOf(null, UNEXPECTED) }
  try {
    const result = await stripe.handleNextAction({ clientSecret })
    if (result?.error) return { error: errorOf(result.error) }
    const intent = result?.paymentIntent ?? result?.setupIntent ?? null
    return { intent, status: intent?.status ?? null }
  } catch {
    return { error: errorOf(null, UNEXPECTED) }
  }
}

/**
 * @param {object} options
 * @param {() => Promise<{config: object, elements: object}>} options.prepare what to mount, asked
 *   once when mounting: the Stripe config (GET /api/stripe/config/: publishable_key, js_url) and
 *   the options of stripe.elements(): `{mode: 'subscription'|'payment'|'setup', amount, currency}`
 *   to collect the card before any intent exists (deferred), or `{clientSecret}` of an existing
 *   PaymentIntent/SetupIntent. A rejection (e.g. the config's 503) becomes `loadError`.
 * @param {Function} [options.load] config → Stripe instance (unit tests pass a fake)
 * @returns refs {ready, complete, empty, loadError, stripe, elements} and
 *   mount(el): loads Stripe.js and mounts the element into `el`;
 *   update(options): new {mode, amount, currency} for a mounted deferred element → true if applied;
 *   submit(): validates the form → `{}` or `{error}` (Stripe shows the field's message too);
 *   confirm({clientSecret, returnUrl}) → `{intent, status}` or `{error}`: confirmPayment for a
 *     PaymentIntent secret, confirmSetup for a SetupIntent secret, 3-D Secure included; a method
 *     that must leave the page comes back to `returnUrl` (redirect: 'if_required');
 *   nextAction(clientSecret) → `{intent, status}` or `{error}`: the bank's 3-D Secure for an intent
 *     the server confirmed with a saved card (stripe.handleNextAction);
 *   retrieve(clientSecret) → `{intent}` or `{error}`; destroy().
 *   Errors are `{message, type, code}` (`message` null when Stripe gave none); none of these
 *   functions throws.
 */
export function usePaymentElement({ prepare, load = loadStripeFromConfig } = {}) {
  const ready = ref(false)
  const complete = ref(false)
  const empty = ref(true)
  const loadError = ref('')
  const stripe = shallowRef(null)
  const elements = shallowRef(null)
  let element = null
  let deferred = true
  let destroyed = false
  let loading = null

  async function start(el) {
    const { config, elements: options } = await prepare()
    if (destroyed) return null // the page closed meanwhile: Stripe.js is not even loaded
    const instance = await load(config)
    if (destroyed) return null
    deferred = !options?.clientSecret
    const group = instance.elements({ appearance: APPEARANCE, ...options })
    const created = group.create('payment', { layout: 'tabs' })
    created.on('change', (event) => {
      complete.value = Boolean(event?.complete)
      empty.value = Boolean(event?.empty)
    })
    created.on('ready', () => {
      if (!destroyed) ready.value = true
    })
    created.mount(el)
    element = created
    stripe.value = instance
    elements.value = group
    return instance
  }

  /** Loads Stripe.js (once) and mounts the element; a failure is said in `loadError`. */
  function mount(el) {
    loadError.value = ''
    loading ??= start(el).catch((err) => {
      loading = null
      // The server's sentence (e.g. 503 payments down), else Stripe.js's own failure.
      loadError.value = err?.response ? apiError(err).detail : err?.message || LOAD_FAILED
      return null
    })
    return loading
  }

  async function submit() {
    if (!ready.value || !elements.value) return { error: errorOf(null, NOT_READY) }
    try {
      const result = await elements.value.submit()
      return result?.error ? { error: errorOf(result.error, CHECK_DETAILS) } : {}
    } catch {
      return { error: errorOf(null, UNEXPECTED) }
    }
  }

  async function confirm({ clientSecret, returnUrl } = {}) {
    if (!ready.value || !stripe.value) return { error: errorOf(null, NOT_READY) }
    const setup = SETUP_SECRET.test(clientSecret ?? '')
    if (!setup && !PAYMENT_SECRET.test(clientSecret ?? '')) return { error: errorOf(null, UNEXPECTED) }
    const params = {
      elements: elements.value,
      confirmParams: { return_url: returnUrl },
      // Cards (3-D Secure included) finish in the page; only a method that needs another page
      // (a bank's) leaves it, and comes back to return_url.
      redirect: 'if_required',
    }
    // With a deferred element the secret comes now; an element made from a secret already has it.
    if (deferred) params.clientSecret = clientSecret
    try {
      const result = setup
        ? await stripe.value.confirmSetup(params)
        : await stripe.value.confirmPayment(params)
      if (result?.error) return { error: errorOf(result.error) }
      const intent = result?.paymentIntent ?? result?.setupIntent ?? null
      return { intent, status: intent?.status ?? null }
    } catch {
      return { error: errorOf(null, UNEXPECTED) }
    }
  }

  /**
   * New options for a deferred element (`{mode, amount, currency}`: another plan, a discount, the
   * trial's setup mode), once it is mounted; elements.update() keeps what the customer typed.
   */
  async function update(options) {
    if (!deferred && stripe.value) return false
    const instance = stripe.value ?? (await loading)
    if (!instance || !elements.value || destroyed || !deferred) return false
    try {
      elements.value.update(options)
      return true
    } catch {
      return false
    }
  }

  /** 3-D Secure for an intent the server confirmed (see confirmNextAction), with this Stripe.js. */
  async function nextAction(clientSecret) {
    return confirmNextAction(stripe.value ?? (await loading), clientSecret)
  }

  /** The intent behind a client secret (e.g. after a redirect back), read with Stripe.js. */
  async function retrieve(clientSecret) {
    const instance = stripe.value ?? (await loading)
    if (!instance) return { error: errorOf(null, loadError.value || LOAD_FAILED) }
    try {
      const setup = SETUP_SECRET.test(clientSecret ?? '')
      const result = setup
        ? await instance.retrieveSetupIntent(clientSecret)
        : await instance.retrievePaymentIntent(clientSecret)
      if (result?.error) return { error: errorOf(result.error) }
      return { intent: result?.paymentIntent ?? result?.setupIntent ?? null }
    } catch {
      return { error: errorOf(null, UNEXPECTED) }
    }
  }

  function destroy() {
    destroyed = true
    ready.value = false
    const current = element
    element = null
    if (current && typeof current.destroy === 'function') current.destroy()
  }

  onBeforeUnmount(destroy)

  return {
    ready,
    complete,
    empty,
    loadError,
    stripe,
    elements,
    mount,
    update,
    submit,
    confirm,
    nextAction,
    retrieve,
    destroy,
  }
}
