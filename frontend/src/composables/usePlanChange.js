// Switching plans from the account page (docs/api.md "Billing": preview-change, change,
// cancel-change), without the markup. Monthly → yearly happens now: the server reads Stripe's
// invoice preview (what is charged now, line by line), the customer confirms, the change is made
// with the preview's proration_date (so the charge equals the preview), and a charge the bank wants
// to confirm goes through stripe.handleNextAction (the Pay now path) then sync. Yearly → monthly
// is scheduled for the end of the paid year ("Changes to monthly on …") and can be called off.
import { computed, ref } from 'vue'
import { useRouter } from 'vue-router'
import { apiError } from '@/api/errors'
import { loadStripeFromConfig } from '@/api/stripeJs'
import { useAccountStore } from '@/stores/account'
import { useBillingStore } from '@/stores/billing'
import { formatDate, formatMoney, planName } from '@/utils/format'
import { confirmInvoiceWithBank } from './usePayInvoice'
import { priceKey } from './usePurchase'

export const CONFIRMING_CHANGE = 'Waiting for your bank’s confirmation of the charge…'
// Why switching is not offered now; the server answers the same (409 not_changeable).
export const BLOCKED = {
  trialing: 'You can change plans once the trial has ended.',
  cancelling: 'Resume your subscription first.',
  past_due: 'Pay the open invoice first, then change plans.',
  incomplete: 'Finish your purchase first.',
}

/**
 * @param {{loadStripe?: Function}} [options] loadStripe: config → Stripe instance (tests pass a fake)
 * @returns refs {current (the status object's price), target (the other plan's price, or null),
 *   scheduled (scheduled_change), blockedReason, preview, previewing, changing, keeping, errorText,
 *   statusText, notice} and
 *   startPreview(): asks what switching to `target` would charge → the preview or null;
 *   confirmChange(): makes the previewed change → `{status, invoice}` or null (reason in errorText);
 *   keepCurrent(): calls a scheduled change off → the status object or null;
 *   closePreview().
 */
export function usePlanChange({ loadStripe = loadStripeFromConfig } = {}) {
  const billing = useBillingStore()
  const account = useAccountStore()
  const router = useRouter()

  const preview = ref(null)
  const previewing = ref(false)
  const changing = ref(false)
  const keeping = ref(false)
  const message = ref('')
  const statusText = ref('')
  const notice = ref('')
  const errorText = computed(() => message.value)

  const status = computed(() => account.subscription)
  const current = computed(() => status.value?.price ?? null)
  const scheduled = computed(() => status.value?.scheduled_change ?? null)
  const target = computed(() => {
    const interval = current.value?.interval
    if (!interval) return null
    return billing.prices.find((price) => price.interval && price.interval !== interval) ?? null
  })
  const blockedReason = computed(() => {
    const state = status.value?.state
    if (status.value?.stripe_status === 'trialing') return BLOCKED.trialing
    return BLOCKED[state] ?? ''
  })

  /** 401: sign in again and come back; anything else: the server's sentence. */
  async function fail(err) {
    const info = apiError(err)
    if (info.status === 401) {
      await account.refresh()
      await router.push({ name: 'login', query: { next: router.currentRoute.value.fullPath } })
      return null
    }
    message.value = info.detail
    // The subscription moved on meanwhile (cancelled, past due, already switched): show it as it is.
    if (info.status === 404 || info.status === 409) await billing.fetchStatus().catch(() => {})
    return null
  }

  async function startPreview() {
    if (previewing.value || changing.value || !target.value) return null
    previewing.value = true
    message.value = ''
    notice.value = ''
    try {
      preview.value = await billing.previewChange(priceKey(target.value))
      return preview.value
    } catch (err) {
      preview.value = null
      return fail(err)
    } finally {
      previewing.value = false
    }
  }

  function closePreview() {
    if (changing.value) return
    preview.value = null
    message.value = ''
  }

  async function confirmChange() {
    const shown = preview.value
    if (!shown || changing.value) return null
    changing.value = true
    message.value = ''
    statusText.value = ''
    try {
      const answer = await billing.changePlan({
        price: priceKey(shown.price),
        // The preview's date makes the charge now equal the preview; a change at the period end
        // prorates nothing, so it has none to keep.
        prorationDate: shown.timing === 'now' ? shown.proration_date : undefined,
      })
      let invoice = answer?.invoice ?? null
      let next = answer?.subscription ?? account.subscription
      // The change is made: the dialog closes; the card says what happens next.
      preview.value = null
      if (invoice?.status === 'open' && invoice.client_secret) {
        // The bank wants to confirm the prorated charge: its challenge in the page, then sync.
        statusText.value = CONFIRMING_CHANGE
        const done = await confirmInvoiceWithBank({
          billing,
          loadStripe,
          clientSecret: invoice.client_secret,
        })
        statusText.value = ''
        next = await billing.syncAfterPayment()
        if (!done.ok) {
          message.value = done.message
          billing.loadInvoices().catch(() => {})
          return null
        }
        invoice = (await billing.findInvoice(invoice.id, { fresh: true }).catch(() => null)) ?? invoice
      }
      // The prorated invoice goes to the top of the list.
      await billing.loadInvoices().catch(() => {})
      notice.value = changedSentence(shown, invoice)
      return { status: next, invoice }
    } catch (err) {
      return fail(err)
    } finally {
      changing.value = false
      statusText.value = ''
    }
  }

  async function keepCurrent() {
    if (keeping.value) return null
    keeping.value = true
    message.value = ''
    notice.value = ''
    try {
      const next = await billing.cancelChange()
      notice.value = `You stay on the ${planName(next?.interval ?? current.value?.interval).toLowerCase()} plan.`
      return next
    } catch (err) {
      return fail(err)
    } finally {
      keeping.value = false
    }
  }

  return {
    current,
    target,
    scheduled,
    blockedReason,
    preview,
    previewing,
    changing,
    keeping,
    errorText,
    statusText,
    notice,
    startPreview,
    confirmChange,
    keepCurrent,
    closePreview,
  }
}

/** What the page says once a change is made. */
function changedSentence(shown, invoice) {
  const plan = planName(shown.price?.interval).toLowerCase()
  if (shown.timing === 'period_end') {
    const day = formatDate(shown.effective_at)
    return `Your plan changes to ${plan} on ${day || 'the end of the paid period'}.`
  }
  const charged = invoice ? formatMoney(invoice.amount_paid || invoice.amount_due, invoice.currency) : ''
  return `You are on the ${plan} plan now.${charged ? ` ${charged} was charged.` : ''}`
}
