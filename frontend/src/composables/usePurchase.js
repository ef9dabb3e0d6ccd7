// The purchase flow of docs/api.md ("Billing"), without the markup, on the Payment Element
// (Stripe's "collect payment details before creating an Intent"): the element is mounted from the
// config's price; Purchase → elements.submit() (an incomplete form stops here, nothing is created)
// → create-subscription → confirmPayment (3-D Secure in the page) → sync → premium.
// A method that had to leave the page comes back to /premium?payment_intent=...: resume() ends it.
import { computed, ref } from 'vue'
import { useRouter } from 'vue-router'
import { apiError } from '@/api/errors'
import { useAccountStore } from '@/stores/account'
import { useBillingStore } from '@/stores/billing'
import { usePaymentElement } from './usePaymentElement'

export const NOT_COMPLETED = 'The payment was not completed.'
export const NOT_THROUGH_YET = 'The payment has not gone through yet. Please try again or use another card.'
export const PROCESSING =
  'Your bank is still confirming the payment. Premium starts as soon as it does; you can leave this page.'
export const FINISHING = 'Finishing your payment…'

const REDIRECT_STATUSES = new Set(['succeeded', 'pending', 'failed'])

/**
 * Stripe's return_url parameters after a redirect, if this query has them (and they fit together):
 * `{paymentIntent, clientSecret, redirectStatus}`, else null.
 */
export function redirectReturn(query) {
  const paymentIntent = query?.payment_intent
  const clientSecret = query?.payment_intent_client_secret
  const redirectStatus = query?.redirect_status
  if (typeof paymentIntent !== 'string' || !/^pi_[A-Za-z0-9]+$/.test(paymentIntent)) return null
  if (typeof clientSecret !== 'string' || !clientSecret.startsWith(`${paymentIntent}_secret_`)) return null
  if (!REDIRECT_STATUSES.has(redirectStatus)) return null
  return { paymentIntent, clientSecret, redirectStatus }
}

/**
 * @param {{loadStripe?: Function}} [options] loadStripe: config → Stripe instance (tests pass a fake)
 * @returns the Payment Element handle `payment` (for PaymentElementForm), refs {submitting,
 *   errorText, statusText, purchased} and
 *   purchase(): resolves the status object once premium, else null (the reason is in errorText);
 *   resume(query): after a redirect back to return_url, syncs and says how it ended (same result).
 */
export function usePurchase({ loadStripe } = {}) {
  const billing = useBillingStore()
  const account = useAccountStore()
  const router = useRouter()
  const payment = usePaymentElement({
    ...(loadStripe ? { load: loadStripe } : {}),
    prepare: async () => {
      const config = await billing.loadConfig()
      // The first invoice's amount: the element shows it where a method needs it.
      const { unit_amount: amount, currency } = config.price
      return { config, elements: { mode: 'subscription', amount, currency } }
    },
  })

  const submitting = ref(false)
  const message = ref('')
  const statusText = ref('')
  const purchased = ref(null)
  const errorText = computed(() => message.value)

  function returnUrl() {
    return new URL(router.resolve({ name: 'premium' }).href, window.location.origin).href
  }

  /** Reads the subscription back from Stripe (server side): premium, or why not yet. */
  async function finish({ processing = false } = {}) {
    const status = await billing.sync()
    if (status?.premium) {
      purchased.value = status
      return status
    }
    // A bank still confirming is news, not a failure: the webhook makes the account premium.
    if (processing) statusText.value = PROCESSING
    else message.value = NOT_THROUGH_YET
    return null
  }

  /** 409 already premium → account; 401 signed out → sign-in and back; else the sentence. */
  async function fail(err) {
    const { status, detail } = apiError(err)
    if (status === 409) {
      await account.refresh()
      await router.push({ name: 'account' })
    } else if (status === 401) {
      await account.refresh()
      await router.push({ name: 'login', query: { next: '/premium' } })
    } else {
      message.value = detail
    }
    return null
  }

  async function purchase() {
    if (submitting.value) return null // one purchase at a time, however often it is clicked
    submitting.value = true
    message.value = ''
    statusText.value = ''
    try {
      // Stripe validates the form first; an empty or half-typed card stops here.
      const checked = await payment.submit()
      if (checked.error) {
        message.value = checked.error.message
        return null
      }
      // The server creates (or reuses) the incomplete subscription; its first invoice's
      // PaymentIntent is what the card pays.
      const created = await billing.createSubscription()
      if (created?.client_secret) {
        const confirmed = await payment.confirm({
          clientSecret: created.client_secret,
          returnUrl: returnUrl(),
        })
        if (confirmed.error) {
          // Declined or failed authentication: still free; pressing Purchase again retries
          // on the same incomplete subscription.
          message.value = confirmed.error.message || NOT_COMPLETED
          return null
        }
        if (confirmed.status === 'processing') return await finish({ processing: true })
      }
      return await finish()
    } catch (err) {
      return fail(err)
    } finally {
      submitting.value = false
    }
  }

  /** Back from a redirect: the address bar loses the secret, then the purchase is finished. */
  async function resume(query) {
    const back = redirectReturn(query)
    if (!back || submitting.value) return null
    submitting.value = true
    message.value = ''
    statusText.value = FINISHING
    try {
      await router.replace({ query: {} })
      const status = await billing.sync()
      statusText.value = ''
      if (status?.premium) {
        purchased.value = status
        return status
      }
      // Not premium: Stripe says why (declined at the bank, abandoned, still processing).
      // Only what Stripe says of the intent counts: the query string is anyone's to write.
      const { intent } = await payment.retrieve(back.clientSecret)
      if (!intent) {
        message.value = NOT_COMPLETED
      } else if (intent.status === 'processing') {
        statusText.value = PROCESSING
      } else if (intent?.last_payment_error?.message) {
        message.value = intent.last_payment_error.message
      } else {
        message.value = intent?.status === 'succeeded' ? NOT_THROUGH_YET : NOT_COMPLETED
      }
      return null
    } catch (err) {
      statusText.value = ''
      return fail(err)
    } finally {
      submitting.value = false
    }
  }

  return { payment, submitting, errorText, statusText, purchased, purchase, resume }
}
