// A stand-in for the Stripe object in unit tests: one card element, scripted confirmCardPayment.
// `load` is what the purchase form and usePurchase() take as `loadStripe` (config → Stripe instance).
import { vi } from 'vitest'

export const SUCCEEDED = { paymentIntent: { id: 'pi_1', status: 'succeeded' } }

export function fakeStripe(confirmResult = SUCCEEDED) {
  const card = {
    mount: vi.fn((el) => {
      // Like the element: it brings its own labelled field.
      el.innerHTML = '<input aria-label="Card number" data-test="card-number" inputmode="numeric" />'
    }),
    on: vi.fn(),
    destroy: vi.fn(),
  }
  const elements = { create: vi.fn(() => card) }
  const stripe = {
    elements: vi.fn(() => elements),
    confirmCardPayment: vi.fn(async () => confirmResult),
  }
  return { stripe, elements, card, load: vi.fn(async () => stripe) }
}
