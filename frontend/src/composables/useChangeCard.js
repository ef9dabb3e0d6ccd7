// Changing the card renewals charge (docs/api.md "Billing self-service"), without the markup, on the
// Payment Element in setup mode: nothing is charged to save a card.
// Save → elements.submit() → POST setup-intent/ → stripe.confirmSetup (3-D Secure in the page) →
// POST payment-method/ {payment_method_id}. If an invoice was open, the server pays it with the new
// card at once: the answer carries it, with a client_secret if the bank wants 3-D Secure for that
// payment too (stripe.handleNextAction), and subscription/sync/ brings the status up to date.
import { computed, ref } from 'vue'
import { useRouter } from 'vue-router'
import { apiError } from '@/api/errors'
import { useAccountStore } from '@/stores/account'
import { useBillingStore } from '@/stores/billing'
import { usePaymentElement } from './usePaymentElement'

export const NOT_SAVED = 'The card was not saved. Nothing was changed; please try again.'
export const CONFIRMING_INVOICE = 'Your new card is saved. Confirming the open payment with your bank…'
export const INVOICE_NOT_CONFIRMED =
  'Your new card is saved, but the open payment was not confirmed. Use “Pay now” to try again.'
export const INVOICE_STILL_OPEN =
  'Your new card is saved, but the open payment did not go through. Use “Pay now” to try again.'

/**
 * @param {{loadStripe?: Function}} [options] loadStripe: config → Stripe instance (tests pass a fake)
 * @returns the Payment Element handle `payment` (for PaymentElementForm), refs {saving, errorText,
 *   statusText} and save(): resolves `{paymentMethod, invoice, status}` once the card is the one
 *   renewals charge (`invoice`: the open invoice it paid, `status`: the status object after that),
 *   else null with the reason in errorText. A card saved whose open payment then failed resolves
 *   too, with the sentence in errorText.
 */
export function useChangeCard({ loadStripe } = {}) {
  const billing = useBillingStore()
  const account = useAccountStore()
  const router = useRouter()
  const payment = usePaymentElement({
    ...(loadStripe ? { load: loadStripe } : {}),
    prepare: async () => {
      const config = await billing.loadConfig()
      // Cards only: the account page shows the card renewals charge, and a card never has to
      // leave the page (3-D Secure is a box in it), so return_url is never used.
      return {
        config,
        elements: { mode: 'setup', currency: config.price?.currency, paymentMethodTypes: ['card'] },
      }
    },
  })

  const saving = ref(false)
  const message = ref('')
  const statusText = ref('')
  const errorText = computed(() => message.value)

  function returnUrl() {
    return new URL(router.resolve({ name: 'account' }).href, window.location.origin).href
  }

  /** The open invoice the new card paid: the bank's confirmation if it wants one, then sync. */
  async function settle(invoice) {
    if (invoice.client_secret) {
      statusText.value = CONFIRMING_INVOICE
      const done = await payment.nextAction(invoice.client_secret)
      statusText.value = ''
      if (done.error) {
        message.value = done.error.message
          ? `Your new card is saved, but the open payment was not confirmed: ${done.error.message}`
          : INVOICE_NOT_CONFIRMED
      }
    } else if (invoice.status !== 'paid') {
      message.value = INVOICE_STILL_OPEN
    }
    // Whatever happened at the bank, the server reads it back from Stripe: premium again, or still
    // past due with the banner. The card is saved either way.
    return billing.syncAfterPayment()
  }

  async function save() {
    if (saving.value) return null // one card at a time, however often Save is clicked
    saving.value = true
    message.value = ''
    statusText.value = ''
    try {
      // Stripe validates the form first; an empty or half-typed card stops here.
      const checked = await payment.submit()
      if (checked.error) {
        message.value = checked.error.message
        return null
      }
      const { client_secret: clientSecret } = await billing.createSetupIntent()
      const confirmed = await payment.confirm({ clientSecret, returnUrl: returnUrl() })
      if (confirmed.error) {
        // Declined or failed authentication: the card on file stays what it was.
        message.value = confirmed.error.message || NOT_SAVED
        return null
      }
      const pm = confirmed.intent?.payment_method
      const paymentMethodId = typeof pm === 'string' ? pm : pm?.id
      if (!paymentMethodId) {
        message.value = NOT_SAVED
        return null
      }
      const answer = await billing.savePaymentMethod(paymentMethodId)
      const invoice = answer?.invoice ?? null
      const status = invoice ? await settle(invoice) : null
      return { paymentMethod: answer?.payment_method ?? null, invoice, status }
    } catch (err) {
      const { status, detail } = apiError(err)
      if (status === 401) {
        await account.refresh()
        await router.push({ name: 'login', query: { next: '/account' } })
        return null
      }
      message.value = detail
      // The server's word on which card renewals charge (a refusal leaves the old one).
      if (status === 400 || status === 402) await billing.loadPaymentMethod().catch(() => {})
      return null
    } finally {
      saving.value = false
      statusText.value = ''
    }
  }

  return { payment, saving, errorText, statusText, save }
}
