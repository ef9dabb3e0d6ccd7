// Stripe config (price, publishable key, Stripe.js URL) and the subscription actions. The status object
// they answer is kept in one place, the account store (`account.subscription`), as GET /api/account/ has it.
import { acceptHMRUpdate, defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as billing from '@/api/billing'
import { formatPrice } from '@/utils/format'
import { useAccountStore } from './account'

export const useBillingStore = defineStore('billing', () => {
  const config = ref(null)
  let configPromise = null
  const account = useAccountStore()

  const priceLabel = computed(() => formatPrice(config.value?.price))

  /** GET /api/stripe/config/ once per page load. */
  function loadConfig() {
    if (config.value) return Promise.resolve(config.value)
    configPromise ??= billing
      .fetchStripeConfig()
      .then((data) => {
        config.value = data
        return data
      })
      .finally(() => {
        configPromise = null
      })
    return configPromise
  }

  /** Every status object the server sends goes into the account (its subscription and tier). */
  function applyStatus(next) {
    account.setSubscription(next)
    return next
  }

  async function fetchStatus() {
    return applyStatus(await billing.fetchSubscription())
  }

  /** {subscription_id, status, client_secret, premium} */
  function createSubscription() {
    return billing.createSubscription()
  }

  async function sync() {
    const next = applyStatus(await billing.syncSubscription())
    // Usage limits and tier come with the account: read it again.
    await account.refresh()
    return next
  }

  async function cancel({ atPeriodEnd = true } = {}) {
    return applyStatus(await billing.cancelSubscription({ atPeriodEnd }))
  }

  async function resume() {
    return applyStatus(await billing.resumeSubscription())
  }

  return { config, priceLabel, loadConfig, fetchStatus, createSubscription, sync, cancel, resume }
})

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useBillingStore, import.meta.hot))
