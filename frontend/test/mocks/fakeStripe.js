// A stand-in for the Stripe object in unit tests: one Payment Element, scripted elements.submit(),
// elements.update(), confirmPayment(), confirmSetup(), handleNextAction() and retrieve*(). `load` is what the card forms take as
// `loadStripe` / usePaymentElement's `load` (config → Stripe instance).
// (The browser tests use the real offline Stripe.js stand-in instead: frontend/e2e/.)
import { vi } from 'vitest'

export const SUCCEEDED = { paymentIntent: { id: 'pi_1', status: 'succeeded' } }
export const SETUP_SUCCEEDED = { setupIntent: { id: 'seti_1', status: 'succeeded', payment_method: 'pm_1' } }
export const DECLINED = {
  error: {
    type: 'card_error',
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
  },
}
export const INCOMPLETE_NUMBER = {
  error: { type: 'validation_error', code: 'incomplete_number', message: 'Your card number is incomplete.' },
}

export function fakeStripe({
  confirmResult = SUCCEEDED,
  setupResult = SETUP_SUCCEEDED,
  submitResult = { selectedPaymentMethod: 'card' },
  retrieveResult = SUCCEEDED,
  nextActionResult = SUCCEEDED,
} = {}) {
  const listeners = {}
  const element = {
    mount: vi.fn((el) => {
      // Like the element: it brings its own labelled field, then says it is ready.
      el.innerHTML =
        '<label for="fake-number">Card number</label>' +
        '<input id="fake-number" data-test="card-number" inputmode="numeric" />'
      for (const handler of listeners.ready ?? []) handler({ elementType: 'payment' })
    }),
    on: vi.fn((name, handler) => {
      ;(listeners[name] ??= []).push(handler)
      return element
    }),
    destroy: vi.fn(),
    /** Test helper: what the element sends when the customer types. */
    emit(name, event) {
      for (const handler of listeners[name] ?? []) handler(event)
    },
  }
  const elements = {
    create: vi.fn(() => element),
    submit: vi.fn(async () => submitResult),
    update: vi.fn(),
  }
  const stripe = {
    elements: vi.fn(() => elements),
    confirmPayment: vi.fn(async () => confirmResult),
    confirmSetup: vi.fn(async () => setupResult),
    retrievePaymentIntent: vi.fn(async () => retrieveResult),
    retrieveSetupIntent: vi.fn(async () => setupResult),
    handleNextAction: vi.fn(async () => nextActionResult),
  }
  return { stripe, elements, element, load: vi.fn(async () => stripe) }
}
