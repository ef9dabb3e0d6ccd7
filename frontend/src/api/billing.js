// Stripe billing endpoints; every call answers a status object except config and create.
import { api } from '@/boot/axios'

export async function fetchStripeConfig() {
  const { data } = await api.get('/api/stripe/config/')
  return data
}

/** {subscription_id, status, client_secret, premium}; 409 already premium, 402 declined. */
export async function createSubscription() {
  const { data } = await api.post('/api/stripe/create-subscription/', {})
  return data
}

export async function syncSubscription() {
  const { data } = await api.post('/api/stripe/subscription/sync/', {})
  return data
}

export async function fetchSubscription() {
  const { data } = await api.get('/api/stripe/subscription/')
  return data
}

export async function cancelSubscription({ atPeriodEnd = true } = {}) {
  const { data } = await api.post('/api/stripe/cancel-subscription/', {
    at_period_end: atPeriodEnd,
  })
  return data
}

export async function resumeSubscription() {
  const { data } = await api.post('/api/stripe/resume-subscription/', {})
  return data
}
