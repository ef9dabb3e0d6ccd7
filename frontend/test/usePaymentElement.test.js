// The card-collecting building block (usePaymentElement + PaymentElementForm) with a fake Stripe:
// what it asks Stripe.js for, and what it makes of Stripe's answers.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { h } from 'vue'
import { mount } from '@vue/test-utils'
import { CONFIG, flush, httpError } from './helpers'
import { DECLINED, INCOMPLETE_NUMBER, SETUP_SUCCEEDED, SUCCEEDED, fakeStripe } from './mocks/fakeStripe.js'
import PaymentElementForm from '@/components/PaymentElementForm.vue'
import {
  LOAD_FAILED,
  NOT_READY,
  UNEXPECTED,
  confirmNextAction,
  usePaymentElement,
} from '@/composables/usePaymentElement'

const DEFERRED = { mode: 'subscription', amount: 2000, currency: 'usd' }
const PI_SECRET = 'pi_1_secret_abc'
const SETI_SECRET = 'seti_1_secret_xyz'
const RETURN_URL = 'https://app.example/premium'

let wrapper

/** The block as a card form uses it: the composable, passed to the component. */
async function setup(fake, { elements = DEFERRED, prepare, message = '' } = {}) {
  let payment
  const Form = {
    setup() {
      payment = usePaymentElement({
        load: fake.load,
        prepare: prepare ?? (async () => ({ config: CONFIG, elements })),
      })
      return () =>
        h(
          PaymentElementForm,
          { payment, label: 'Card details', message },
          { default: ({ ready }) => h('button', { disabled: !ready, 'data-test': 'pay' }, 'Pay') },
        )
    },
  }
  wrapper = mount(Form, { attachTo: document.body })
  await flush()
  await flush()
  return payment
}

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  document.body.innerHTML = ''
})

describe('usePaymentElement + PaymentElementForm', () => {
  it('mounts the Payment Element deferred, in a labelled group, and becomes ready', async () => {
    const fake = fakeStripe()
    const payment = await setup(fake)
    expect(fake.load).toHaveBeenCalledWith(CONFIG)
    expect(fake.stripe.elements).toHaveBeenCalledExactlyOnceWith({
      appearance: expect.objectContaining({ theme: 'stripe' }),
      ...DEFERRED,
    })
    expect(fake.elements.create).toHaveBeenCalledWith('payment', expect.any(Object))
    const host = wrapper.get('[data-test="payment-element"]')
    expect(fake.element.mount).toHaveBeenCalledExactlyOnceWith(host.element)
    expect(host.attributes('role')).toBe('group')
    expect(wrapper.get(`#${host.attributes('aria-labelledby')}`).text()).toBe('Card details')
    expect(payment.ready.value).toBe(true)
    expect(wrapper.get('[data-test="pay"]').attributes('disabled')).toBeUndefined()
    expect(wrapper.text()).not.toContain('Loading the secure payment form')

    fake.element.emit('change', {
      elementType: 'payment',
      complete: true,
      empty: false,
      value: { type: 'card' },
    })
    expect(payment.complete.value).toBe(true)
    expect(payment.empty.value).toBe(false)
  })

  it('says "loading" and keeps the button off until the element is ready', async () => {
    const fake = fakeStripe()
    fake.load.mockImplementation(() => new Promise(() => {}))
    const payment = await setup(fake)
    expect(wrapper.get('[role="status"]').text()).toBe('Loading the secure payment form…')
    expect(wrapper.get('[data-test="pay"]').attributes('disabled')).toBeDefined()
    expect(await payment.submit()).toEqual({ error: { message: NOT_READY, type: null, code: null } })
    expect(await payment.confirm({ clientSecret: PI_SECRET })).toMatchObject({
      error: { message: NOT_READY },
    })
  })

  it("submit: returns Stripe's validation error (an incomplete form) and creates nothing", async () => {
    const fake = fakeStripe({ submitResult: INCOMPLETE_NUMBER })
    const payment = await setup(fake)
    expect(await payment.submit()).toEqual({
      error: {
        message: 'Your card number is incomplete.',
        type: 'validation_error',
        code: 'incomplete_number',
      },
    })
    expect(fake.stripe.confirmPayment).not.toHaveBeenCalled()
  })

  it('submit: a complete form passes', async () => {
    const fake = fakeStripe()
    const payment = await setup(fake)
    expect(await payment.submit()).toEqual({})
    expect(fake.elements.submit).toHaveBeenCalledOnce()
  })

  it('confirm: a PaymentIntent secret → confirmPayment with the elements, the secret and return_url', async () => {
    const fake = fakeStripe()
    const payment = await setup(fake)
    const result = await payment.confirm({ clientSecret: PI_SECRET, returnUrl: RETURN_URL })
    expect(fake.stripe.confirmPayment).toHaveBeenCalledExactlyOnceWith({
      elements: fake.elements,
      clientSecret: PI_SECRET,
      confirmParams: { return_url: RETURN_URL },
      redirect: 'if_required',
    })
    expect(fake.stripe.confirmSetup).not.toHaveBeenCalled()
    expect(result).toEqual({ intent: SUCCEEDED.paymentIntent, status: 'succeeded' })
  })

  it("confirm: a decline or failed authentication gives Stripe's sentence", async () => {
    const fake = fakeStripe({ confirmResult: DECLINED })
    const payment = await setup(fake)
    expect(await payment.confirm({ clientSecret: PI_SECRET, returnUrl: RETURN_URL })).toEqual({
      error: { message: 'Your card was declined.', type: 'card_error', code: 'card_declined' },
    })
  })

  it('confirm: a network failure or a rejected call becomes a sentence, never a throw', async () => {
    const fake = fakeStripe({
      confirmResult: { error: { type: 'api_connection_error', message: 'We could not reach Stripe.' } },
    })
    const payment = await setup(fake)
    expect((await payment.confirm({ clientSecret: PI_SECRET })).error.message).toBe(
      'We could not reach Stripe.',
    )
    fake.stripe.confirmPayment.mockRejectedValueOnce(new Error('IntegrationError: bad call'))
    expect((await payment.confirm({ clientSecret: PI_SECRET })).error.message).toBe(UNEXPECTED)
    expect((await payment.confirm({ clientSecret: 'not-a-secret' })).error.message).toBe(UNEXPECTED)
    expect(fake.stripe.confirmPayment).toHaveBeenCalledTimes(2)
  })

  it('confirm: a SetupIntent secret → confirmSetup (change card)', async () => {
    const fake = fakeStripe()
    const payment = await setup(fake, { elements: { mode: 'setup', currency: 'usd' } })
    const result = await payment.confirm({ clientSecret: SETI_SECRET, returnUrl: RETURN_URL })
    expect(fake.stripe.confirmSetup).toHaveBeenCalledExactlyOnceWith({
      elements: fake.elements,
      clientSecret: SETI_SECRET,
      confirmParams: { return_url: RETURN_URL },
      redirect: 'if_required',
    })
    expect(result).toEqual({ intent: SETUP_SUCCEEDED.setupIntent, status: 'succeeded' })
  })

  it('an element made from an existing intent confirms without passing its secret again (pay an invoice)', async () => {
    const fake = fakeStripe()
    const payment = await setup(fake, { elements: { clientSecret: PI_SECRET } })
    expect(fake.stripe.elements).toHaveBeenCalledWith(expect.objectContaining({ clientSecret: PI_SECRET }))
    await payment.confirm({ clientSecret: PI_SECRET, returnUrl: RETURN_URL })
    expect(fake.stripe.confirmPayment).toHaveBeenCalledExactlyOnceWith({
      elements: fake.elements,
      confirmParams: { return_url: RETURN_URL },
      redirect: 'if_required',
    })
  })

  it("nextAction: the bank's 3-D Secure for an intent the server confirmed (handleNextAction)", async () => {
    const fake = fakeStripe()
    const payment = await setup(fake, { elements: { mode: 'setup', currency: 'usd' } })
    expect(await payment.nextAction(PI_SECRET)).toEqual({
      intent: SUCCEEDED.paymentIntent,
      status: 'succeeded',
    })
    expect(fake.stripe.handleNextAction).toHaveBeenCalledExactlyOnceWith({ clientSecret: PI_SECRET })
  })

  it('confirmNextAction: failures become sentences, never throws, and a non-secret reaches no Stripe', async () => {
    const fake = fakeStripe({
      nextActionResult: {
        error: {
          type: 'invalid_request_error',
          code: 'payment_intent_authentication_failure',
          message: 'We are unable to authenticate your payment method.',
        },
      },
    })
    expect(await confirmNextAction(fake.stripe, PI_SECRET)).toEqual({
      error: {
        message: 'We are unable to authenticate your payment method.',
        type: 'invalid_request_error',
        code: 'payment_intent_authentication_failure',
      },
    })
    fake.stripe.handleNextAction.mockRejectedValueOnce(new Error('IntegrationError'))
    expect((await confirmNextAction(fake.stripe, PI_SECRET)).error.message).toBe(UNEXPECTED)
    expect((await confirmNextAction(fake.stripe, 'in_1')).error.message).toBe(UNEXPECTED)
    expect((await confirmNextAction(null, PI_SECRET)).error.message).toBe(LOAD_FAILED)
    expect(fake.stripe.handleNextAction).toHaveBeenCalledTimes(2)
  })

  it('retrieve: reads a PaymentIntent or SetupIntent back with Stripe.js', async () => {
    const fake = fakeStripe({ retrieveResult: { paymentIntent: { id: 'pi_1', status: 'processing' } } })
    const payment = await setup(fake)
    expect(await payment.retrieve(PI_SECRET)).toEqual({ intent: { id: 'pi_1', status: 'processing' } })
    expect(fake.stripe.retrievePaymentIntent).toHaveBeenCalledWith(PI_SECRET)
    expect(await payment.retrieve(SETI_SECRET)).toEqual({ intent: SETUP_SUCCEEDED.setupIntent })
  })

  it("shows why the form is missing: the server's sentence, or Stripe.js failing to load", async () => {
    const down = fakeStripe()
    const payment = await setup(down, {
      prepare: async () => {
        throw httpError(503, { detail: 'Payments are down.' })
      },
    })
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Payments are down.')
    expect(wrapper.get('[data-test="payment-error"]').attributes('role')).toBe('alert')
    expect(wrapper.text()).not.toContain('Loading the secure payment form')
    expect(down.load).not.toHaveBeenCalled()
    expect(payment.ready.value).toBe(false)
    wrapper.unmount()

    const broken = fakeStripe()
    broken.load.mockRejectedValue(new Error('Stripe.js could not be loaded.'))
    await setup(broken)
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe('Stripe.js could not be loaded.')
    wrapper.unmount()

    const silent = fakeStripe()
    silent.load.mockRejectedValue({})
    await setup(silent)
    expect(wrapper.get('[data-test="payment-error"]').text()).toBe(LOAD_FAILED)
  })

  it("shows the flow's sentence in the alert the group is described by", async () => {
    const fake = fakeStripe()
    await setup(fake, { message: 'Your card was declined.' })
    const alert = wrapper.get('[data-test="payment-error"]')
    expect(alert.text()).toBe('Your card was declined.')
    expect(wrapper.get('[data-test="payment-element"]').attributes('aria-describedby')).toBe(
      alert.attributes('id'),
    )
  })

  it('creates no element when the page closes before Stripe.js has loaded', async () => {
    const fake = fakeStripe()
    let loaded
    fake.load.mockImplementation(() => new Promise((resolve) => (loaded = resolve)))
    const payment = await setup(fake)
    wrapper.unmount()
    wrapper = null
    loaded(fake.stripe)
    await flush()
    expect(fake.stripe.elements).not.toHaveBeenCalled()
    expect(fake.element.mount).not.toHaveBeenCalled()
    expect(payment.ready.value).toBe(false)
  })

  it('does not even load Stripe.js when the page closes before the config arrives', async () => {
    const fake = fakeStripe()
    let configured
    const prepare = vi.fn(() => new Promise((resolve) => (configured = resolve)))
    await setup(fake, { prepare })
    wrapper.unmount()
    wrapper = null
    configured({ config: CONFIG, elements: DEFERRED })
    await flush()
    expect(fake.load).not.toHaveBeenCalled()
  })

  it('destroys the element when the page closes', async () => {
    const fake = fakeStripe()
    const payment = await setup(fake)
    wrapper.unmount()
    wrapper = null
    expect(fake.element.destroy).toHaveBeenCalledOnce()
    expect(payment.ready.value).toBe(false)
  })
})
