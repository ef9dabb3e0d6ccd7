// Stand-in for src/api/billing.js in unit tests: `vi.mock('@/api/billing', () => import('./mocks/billingApi.js'))`.
// Each test file gets its own copy (vitest isolates modules per file).
import { vi } from 'vitest'

export const fetchStripeConfig = vi.fn()
export const createSubscription = vi.fn()
export const syncSubscription = vi.fn()
export const fetchSubscription = vi.fn()
export const cancelSubscription = vi.fn()
export const resumeSubscription = vi.fn()
export const fetchPaymentMethod = vi.fn()
export const createSetupIntent = vi.fn()
export const updatePaymentMethod = vi.fn()
export const fetchInvoices = vi.fn()
export const payInvoice = vi.fn()
export const createPortalSession = vi.fn()
export const checkPromotionCode = vi.fn()
export const previewPlanChange = vi.fn()
export const changePlan = vi.fn()
export const cancelPlanChange = vi.fn()
