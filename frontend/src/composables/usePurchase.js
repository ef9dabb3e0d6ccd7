// The purchase flow of docs/api.md ("Billing"), without the markup, on the Payment Element
// (Stripe's "collect payment details before creating an Intent"): the element is mounted from the
// chosen price (monthly or yearly, from the config's `prices`); Purchase → elements.submit() (an
// incomplete form stops here, nothing is created) → create-subscription {price, promotion_code}
// → confirmPayment (3-D Secure in the page) → sync → premium.
// The free trial (a first subscription, config `trial_days` > 0): the element in setup mode,
// create-subscription {trial: true} → confirmSetup with the subscription's pending SetupIntent →
// sync → premium (trialing), nothing charged until the trial ends.
// A promotion code is checked by the server first (POST promotion-code/), which says what the first
// payment will be; the element's amount follows it.
// A method that had to leave the page comes back to /premium?payment_intent=...: resume() ends it.
import { computed, ref, watch } from 'vue'
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
export const TRIAL_NOT_STARTED = 'The free trial was not started: your card was not saved. Please try again.'
export const NO_TRIAL_WITH_CODE = 'A promotion code cannot be combined with the free trial.'
export const TYPE_A_CODE = 'Type a promotion code first.'

/** The key the server takes for a price: its lookup key, else its id. */
export function priceKey(price) {
  return price?.lookup_key || price?.id || null
}

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
 *   errorText, statusText, purchased}, the choice {plan (a price key), price (the chosen price
 *   object), trial (bool), trialAvailable}, the promotion code {code (as typed), promotion (the
 *   server's answer once applied), promotionError, checkingCode, applyCode(), removeCode()} and
 *   purchase(): resolves the status object once premium, else null (the reason is in errorText);
 *   resume(query): after a redirect back to return_url, syncs and says how it ended (same result).
 */
export function usePurchase({ loadStripe } = {}) {
  const billing = useBillingStore()
  const account = useAccountStore()
  const router = useRouter()

  // The chosen plan (a price key: lookup key or id); the first price (monthly) until one is chosen.
  const chosen = ref(null)
  const price = computed(
    () => billing.prices.find((item) => priceKey(item) === chosen.value) ?? billing.prices[0] ?? null,
  )
  const plan = computed({
    get: () => priceKey(price.value),
    set: (key) => {
      chosen.value = key
    },
  })
  const trialAvailable = computed(
    () => billing.trialDays > 0 && account.subscription?.trial_eligible === true,
  )
  const wantsTrial = ref(false)
  const trial = computed({
    get: () => wantsTrial.value && trialAvailable.value,
    set: (value) => {
      wantsTrial.value = Boolean(value)
      // One or the other (the server refuses both): choosing the trial drops an applied code.
      if (value) removeCode()
    },
  })
  const code = ref('')
  const promotion = ref(null)
  const promotionError = ref('')
  const checkingCode = ref(false)

  /** What the element is mounted with: the first invoice's amount, or setup mode for the trial. */
  function elementOptions() {
    const current = price.value
    if (!current) return null
    if (trial.value) return { mode: 'setup', currency: current.currency }
    const amount = promotion.value?.first_amount ?? current.unit_amount
    return { mode: 'subscription', amount, currency: current.currency }
  }

  const payment = usePaymentElement({
    ...(loadStripe ? { load: loadStripe } : {}),
    prepare: async () => {
      const config = await billing.loadConfig()
      // The first invoice's amount: the element shows it where a method needs it.
      const { unit_amount: amount, currency } = config.price
      return { config, elements: elementOptions() ?? { mode: 'subscription', amount, currency } }
    },
  })
  // Another plan, a discount or the trial: the element follows (what was typed stays).
  watch(
    () => JSON.stringify(elementOptions()),
    (next, previous) => {
      if (next !== previous && next !== 'null') payment.update(JSON.parse(next))
    },
  )

  /**
   * Asks the server what the typed code takes off the chosen plan's first payment; the answer (or
   * the server's sentence) is shown before anything is paid. → the answer or null.
   */
  async function applyCode() {
    const typed = code.value.trim()
    promotionError.value = ''
    if (!typed) {
      promotion.value = null
      promotionError.value = TYPE_A_CODE
      return null
    }
    if (trial.value) {
      promotionError.value = NO_TRIAL_WITH_CODE
      return null
    }
    checkingCode.value = true
    const forPlan = plan.value
    try {
      const answer = await billing.checkPromotionCode({ code: typed, price: forPlan })
      // The plan changed while the server was asked: that answer is for the other price.
      if (plan.value !== forPlan) return null
      promotion.value = answer
      return answer
    } catch (err) {
      const info = apiError(err)
      promotion.value = null
      if (info.status === 401) {
        await fail(err)
        return null
      }
      promotionError.value = info.detail
      return null
    } finally {
      checkingCode.value = false
    }
  }

  function removeCode() {
    promotion.value = null
    promotionError.value = ''
    code.value = ''
  }

  // An applied code is checked again for the other plan (its first payment differs).
  watch(plan, (next, previous) => {
    if (next !== previous && promotion.value) applyCode()
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
    const { status, detail, code } = apiError(err)
    if (status === 409 && code === 'trial_not_available') {
      // Not (or no longer) eligible: the option goes away with the refreshed account.
      message.value = detail
      wantsTrial.value = false
      await account.refresh()
    } else if (status === 409) {
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
    const withTrial = trial.value
    try {
      // Stripe validates the form first; an empty or half-typed card stops here.
      const checked = await payment.submit()
      if (checked.error) {
        message.value = checked.error.message
        return null
      }
      // A code typed but not applied is checked now: the customer sees what it does before paying.
      if (
        !withTrial &&
        code.value.trim() &&
        promotion.value?.code?.toLowerCase() !== code.value.trim().toLowerCase()
      ) {
        if (!(await applyCode())) {
          message.value = promotionError.value
          return null
        }
      }
      // The server creates (or reuses) the incomplete subscription; its first invoice's
      // PaymentIntent is what the card pays (the trial: its pending SetupIntent saves the card).
      const created = await billing.createSubscription({
        price: plan.value,
        promotionCode: withTrial ? undefined : promotion.value?.code,
        trial: withTrial,
      })
      if (created?.client_secret) {
        const confirmed = await payment.confirm({
          clientSecret: created.client_secret,
          returnUrl: returnUrl(),
        })
        if (confirmed.error) {
          // Declined or failed authentication: still free; pressing Purchase again retries
          // on the same incomplete subscription.
          message.value = confirmed.error.message || (withTrial ? TRIAL_NOT_STARTED : NOT_COMPLETED)
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

  return {
    payment,
    submitting,
    errorText,
    statusText,
    purchased,
    purchase,
    resume,
    plan,
    price,
    trial,
    trialAvailable,
    code,
    promotion,
    promotionError,
    checkingCode,
    applyCode,
    removeCode,
  }
}
