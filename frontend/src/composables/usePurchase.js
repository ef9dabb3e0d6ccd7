// The purchase flow of docs/api.md ("Billing"), without the markup: load the config and the card
// element, then create-subscription → confirmCardPayment (3-D Secure) when asked → sync → premium.
import { computed, ref } from 'vue'
import { useRouter } from 'vue-router'
import { apiError } from '@/api/errors'
import { useAccountStore } from '@/stores/account'
import { useBillingStore } from '@/stores/billing'
import { useStripeCard } from './useStripeCard'

export const NOT_COMPLETED = 'The payment was not completed.'
export const NOT_THROUGH_YET = 'The payment has not gone through yet. Please try again or use another card.'

/**
 * @param {{loadStripe?: Function}} [options] loadStripe: config → Stripe instance (tests pass a fake)
 * @returns refs {ready, submitting, errorText, purchased} and
 *   start(el): loads the config and mounts the card element into `el`;
 *   purchase(): resolves the status object once premium, else null (the reason is in errorText)
 */
export function usePurchase({ loadStripe } = {}) {
  const billing = useBillingStore()
  const account = useAccountStore()
  const router = useRouter()
  const {
    stripe,
    card,
    ready,
    error: cardError,
    mount,
  } = useStripeCard(loadStripe ? { load: loadStripe } : {})

  const submitting = ref(false)
  const message = ref('')
  const purchased = ref(null)
  const errorText = computed(() => message.value || cardError.value)

  async function start(el) {
    try {
      const config = await billing.loadConfig()
      await mount(el, config)
    } catch (err) {
      message.value = apiError(err).detail
    }
  }

  async function purchase() {
    if (submitting.value) return null // one purchase at a time, however often it is clicked
    submitting.value = true
    message.value = ''
    try {
      const created = await billing.createSubscription()
      if (created?.client_secret) {
        const result = await stripe.value.confirmCardPayment(created.client_secret, {
          payment_method: { card: card.value },
        })
        if (result?.error) {
          // Declined or failed authentication: still free; pressing Purchase again retries
          // on the same incomplete subscription.
          message.value = result.error.message || NOT_COMPLETED
          return null
        }
      }
      const status = await billing.sync()
      if (status?.premium) {
        purchased.value = status
        return status
      }
      message.value = NOT_THROUGH_YET
      return null
    } catch (err) {
      const { status, detail } = apiError(err)
      if (status === 409) {
        await account.refresh()
        await router.push({ name: 'account' })
        return null
      }
      if (status === 401) {
        await account.refresh()
        await router.push({ name: 'login', query: { next: '/premium' } })
        return null
      }
      message.value = detail
      return null
    } finally {
      submitting.value = false
    }
  }

  return { ready, submitting, errorText, purchased, start, purchase }
}
