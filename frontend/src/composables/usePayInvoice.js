// Paying an open invoice with the card on file ("Pay now" on the account page, and the page an
// "action required" e-mail links to), without the markup: POST invoices/{id}/pay/ → if the bank wants
// 3-D Secure, the answer's client_secret → stripe.handleNextAction (the challenge in the page) →
// POST subscription/sync/. Stripe.js is loaded only when a challenge is needed.
import { computed, ref } from 'vue'
import { useRouter } from 'vue-router'
import { apiError } from '@/api/errors'
import { loadStripeFromConfig } from '@/api/stripeJs'
import { useAccountStore } from '@/stores/account'
import { useBillingStore } from '@/stores/billing'
import { confirmNextAction } from './usePaymentElement'

export const CONFIRMING = 'Waiting for your bank’s confirmation…'
export const NOT_CONFIRMED = 'The payment was not confirmed. Nothing was charged; please try again.'
export const NOT_THROUGH = 'The payment has not gone through yet. Please try again or change your card.'

/**
 * The bank's challenge for an invoice payment the server started (an open invoice's
 * `client_secret`): loads Stripe.js from the config, stripe.handleNextAction. → `{ok: true}` once it
 * went through (or is processing), else `{ok: false, message}`; never throws. Pay now, the
 * confirm-payment page and a plan switch that needs 3-D Secure all end here.
 */
export async function confirmInvoiceWithBank({ billing, loadStripe = loadStripeFromConfig, clientSecret }) {
  let stripe
  try {
    stripe = await loadStripe(await billing.loadConfig())
  } catch (err) {
    return { ok: false, message: err?.response ? apiError(err).detail : err?.message || NOT_CONFIRMED }
  }
  const done = await confirmNextAction(stripe, clientSecret)
  if (done.error) return { ok: false, message: done.error.message || NOT_CONFIRMED }
  if (done.status !== 'succeeded' && done.status !== 'processing') return { ok: false, message: NOT_THROUGH }
  return { ok: true }
}

/**
 * @param {{loadStripe?: Function}} [options] loadStripe: config → Stripe instance (tests pass a fake)
 * @returns refs {paying, errorText, statusText, declined} and
 *   pay(invoiceId): resolves `{invoice, status}` once the invoice is paid (`status`: the status
 *   object after it), else null with the reason in errorText; `declined` is true when the card
 *   was refused (402: a new card is the way out), `settled` when the invoice was not open (409).
 */
export function usePayInvoice({ loadStripe = loadStripeFromConfig } = {}) {
  const billing = useBillingStore()
  const account = useAccountStore()
  const router = useRouter()
  const paying = ref(false)
  const message = ref('')
  const statusText = ref('')
  const declined = ref(false)
  const settled = ref(false)
  const errorText = computed(() => message.value)

  /** The bank's challenge for the payment the server started; true when it went through. */
  async function confirm(clientSecret) {
    statusText.value = CONFIRMING
    const done = await confirmInvoiceWithBank({ billing, loadStripe, clientSecret })
    if (!done.ok) message.value = done.message
    return done.ok
  }

  async function pay(invoiceId) {
    if (paying.value) return null // one payment at a time, however often it is clicked
    paying.value = true
    message.value = ''
    statusText.value = ''
    declined.value = false
    settled.value = false
    try {
      let invoice = await billing.payInvoice(invoiceId)
      let confirmed = invoice?.status === 'paid'
      if (!confirmed && invoice?.client_secret) confirmed = await confirm(invoice.client_secret)
      else if (!confirmed) message.value = NOT_THROUGH
      // The server reads the subscription back from Stripe: premium again and the banner gone, or
      // still past due. The invoice is read again too (paid now, or still open).
      const status = await billing.syncAfterPayment()
      if (!confirmed) return null
      invoice = (await billing.findInvoice(invoiceId, { fresh: true }).catch(() => null)) ?? invoice
      return { invoice, status }
    } catch (err) {
      const { status, detail } = apiError(err)
      if (status === 401) {
        await account.refresh()
        await router.push({ name: 'login', query: { next: router.currentRoute.value.fullPath } })
        return null
      }
      message.value = detail
      declined.value = status === 402
      settled.value = status === 409
      if (status === 409) {
        // Paid meanwhile (a webhook, another tab) or voided: show it as it is now.
        await Promise.allSettled([billing.findInvoice(invoiceId, { fresh: true }), billing.fetchStatus()])
      }
      return null
    } finally {
      paying.value = false
      statusText.value = ''
    }
  }

  return { paying, errorText, statusText, declined, settled, pay }
}
