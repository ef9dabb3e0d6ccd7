/*
 * Stripe.js stand-in for the offline Stripe server (devtools.fakestripe).
 *
 * Derived from localstripe's localstripe-v3.js, Copyright 2017 Adrien Vergé, GPL-3.0-or-later
 * (https://github.com/adrienverge/localstripe); modified for Open SEC Data's dev tools:
 *   - confirmCardPayment() creates a PaymentMethod from the card element (or uses a given
 *     payment method id), confirms the PaymentIntent with the publishable key + client_secret,
 *     shows the 3-D Secure box only when the server answers `requires_action`, and resolves
 *     {paymentIntent} or {error: {type, code, decline_code, message, payment_intent}} like Stripe;
 *   - createPaymentMethod() implemented ({paymentMethod} / {error});
 *   - handleCardAction(), retrievePaymentIntent();
 *   - accessible, keyboard-usable card element (aria-labels, group, autocomplete, inputmode) and
 *     dialog; each card input carries a stable data-test="card-<field>" for browser tests;
 *   - element 'change' events carry {elementType, empty, complete, error, brand}.
 *
 * This program is free software: you can redistribute it and/or modify it under the terms of
 * the GNU General Public License as published by the Free Software Foundation, either version 3
 * of the License, or (at your option) any later version. It is distributed WITHOUT ANY
 * WARRANTY; see <http://www.gnu.org/licenses/>. Development/test use only: never ship it.
 */

(function () {
  'use strict';

  // The API base is the origin (and path prefix) this script was served from, so a same-origin
  // dev proxy at /js.stripe.com/v3/ makes every call go to the app's origin too.
  const API_BASE = (function () {
    const script = document.currentScript;
    const src = script && script.src ? script.src : window.location.href;
    if (/\/js\.stripe\.com\/v3\/?(\?.*)?$/.test(src)) {
      return src.replace(/\/js\.stripe\.com\/v3\/?(\?.*)?$/, '');
    }
    return (src.match(/^https?:\/\/[^/]*/) || [window.location.origin])[0];
  })();

  const AUTH_FAILED = 'We are unable to authenticate your payment method. Please choose a ' +
    'different payment method and try again.';

  async function api(method, path, params) {
    const init = {method, headers: {Accept: 'application/json'}};
    let url = API_BASE + path;
    if (method === 'GET') {
      url += (url.includes('?') ? '&' : '?') + new URLSearchParams(params).toString();
    } else {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(params);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return {error: {type: 'api_connection_error',
                      message: 'Could not reach the Stripe stand-in: ' + err}};
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || body.error) {
      const error = Object.assign({type: 'api_error', message: 'HTTP ' + response.status},
                                  body.error || {});
      return {error};
    }
    return {body};
  }

  function intentId(clientSecret, prefix) {
    const m = typeof clientSecret === 'string' &&
      clientSecret.match(new RegExp('^(' + prefix + '_[A-Za-z0-9]+)_secret_'));
    return m ? m[1] : null;
  }

  function integrationError(message) {
    return {error: {type: 'invalid_request_error', code: 'parameter_invalid', message}};
  }

  // -- 3-D Secure box ---------------------------------------------------------------------
  function openModal(text, confirmText, cancelText) {
    return new Promise(resolve => {
      const previousFocus = document.activeElement;
      const overlay = document.createElement('div');
      const box = document.createElement('div');
      const title = document.createElement('h2');
      const p = document.createElement('p');
      const confirm = document.createElement('button');
      const cancel = document.createElement('button');
      const titleId = 'fakestripe-3ds-title-' + Math.random().toString(36).slice(2);
      Object.assign(overlay.style, {
        position: 'fixed', inset: '0', background: 'rgba(0,0,0,0.4)', zIndex: '2147483647',
        display: 'flex', alignItems: 'center', justifyContent: 'center',
      });
      Object.assign(box.style, {
        width: '320px', padding: '16px 20px', border: '3px solid #ccc', background: '#fff',
        color: '#000', textAlign: 'center', fontFamily: 'sans-serif',
      });
      box.setAttribute('role', 'dialog');
      box.setAttribute('aria-modal', 'true');
      box.setAttribute('aria-labelledby', titleId);
      box.setAttribute('data-testid', 'fakestripe-3ds');
      title.id = titleId;
      title.textContent = '3D Secure authentication (test)';
      title.style.fontSize = '1.1em';
      p.textContent = text;
      for (const [button, label] of [[confirm, confirmText], [cancel, cancelText]]) {
        button.type = 'button';
        button.textContent = label;
        button.style.margin = '4px';
      }
      box.append(title, p, confirm, cancel);
      overlay.appendChild(box);
      document.body.appendChild(overlay);
      const finish = (value) => {
        document.removeEventListener('keydown', onKey, true);
        overlay.remove();
        if (previousFocus && previousFocus.focus) previousFocus.focus();
        resolve(value);
      };
      const onKey = (event) => {
        if (event.key === 'Escape') {
          event.preventDefault();
          finish(false);
        } else if (event.key === 'Tab') {  // keep focus inside the dialog
          event.preventDefault();
          (document.activeElement === confirm ? cancel : confirm).focus();
        }
      };
      document.addEventListener('keydown', onKey, true);
      confirm.addEventListener('click', () => finish(true));
      cancel.addEventListener('click', () => finish(false));
      confirm.focus();
    });
  }

  // -- card element ---------------------------------------------------------------------------
  // Each input is labelled (aria-label: what a screen reader says, and what tests select by) and
  // addressable (data-test: the app's browser tests, e.g. page.getByTestId('card-number')).
  const FIELDS = [
    {name: 'number', label: 'Card number', testId: 'card-number',
     placeholder: '4242 4242 4242 4242', size: 19, autocomplete: 'cc-number', inputMode: 'numeric',
     maxLength: 23},
    {name: 'exp_month', label: 'Expiration month (MM)', testId: 'card-exp-month',
     placeholder: 'MM', size: 2, autocomplete: 'cc-exp-month', inputMode: 'numeric', maxLength: 2},
    {name: 'exp_year', label: 'Expiration year (YY)', testId: 'card-exp-year', placeholder: 'YY',
     size: 2, autocomplete: 'cc-exp-year', inputMode: 'numeric', maxLength: 2},
    {name: 'cvc', label: 'CVC', testId: 'card-cvc', placeholder: 'CVC', size: 4,
     autocomplete: 'cc-csc', inputMode: 'numeric', maxLength: 4},
    {name: 'postal_code', label: 'ZIP / postal code', testId: 'card-postal-code',
     placeholder: 'ZIP', size: 6, autocomplete: 'postal-code', inputMode: 'text', maxLength: 10},
  ];

  function brandOf(number) {
    if (/^4/.test(number)) return 'visa';
    if (/^(5[1-5]|2[2-7])/.test(number)) return 'mastercard';
    if (/^3[47]/.test(number)) return 'amex';
    if (/^6/.test(number)) return 'discover';
    return 'unknown';
  }

  class Element {
    constructor(stripeElements, type, options) {
      this._stripeElements = stripeElements;
      this._type = type;
      this._options = options || {};
      this.listeners = {};
      this._domChildren = [];
      this._inputs = undefined;
      this.value = undefined;
    }

    mount(domElement) {
      if (typeof domElement === 'string') {
        domElement = document.querySelector(domElement);
      }
      if (!(domElement instanceof window.Element)) {
        throw new Error('Invalid DOM element. Make sure to call mount() with a valid DOM ' +
                        'element or selector.');
      }
      if (this._stripeElements._cardElement !== this) {
        throw new Error('This Element has already been destroyed. Please create a new one.');
      }
      if (this._domChildren.length) {
        if (domElement === this._domChildren[0].parentElement) return;
        throw new Error('This Element is already mounted. Use `unmount()` to unmount the ' +
                        'Element before re-mounting.');
      }
      const group = document.createElement('div');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', 'Card details (offline test card)');
      group.className = 'fakestripe-card-element';
      group.style.display = 'flex';
      group.style.flexWrap = 'wrap';
      group.style.gap = '4px';
      const caption = document.createElement('span');
      caption.textContent = 'Test card:';
      caption.setAttribute('aria-hidden', 'true');
      group.appendChild(caption);
      this._inputs = {};
      FIELDS.forEach(field => {
        const input = document.createElement('input');
        input.type = 'text';
        input.name = 'fakestripe-' + field.name;
        input.setAttribute('aria-label', field.label);
        input.setAttribute('data-test', field.testId);
        input.setAttribute('placeholder', field.placeholder);
        input.setAttribute('autocomplete', field.autocomplete);
        input.setAttribute('inputmode', field.inputMode);
        input.setAttribute('size', field.size);
        input.maxLength = field.maxLength;
        // Styled here, like Stripe styles its own iframe: the app's CSS knows nothing of us.
        Object.assign(input.style, {
          fontSize: '16px', padding: '4px', margin: '2px', maxWidth: '100%',
          border: '1px solid rgba(0, 0, 0, 0.2)', borderRadius: '3px',
        });
        input.addEventListener('input', (event) => this._changed(event));
        input.addEventListener('focus', () => this._emit('focus', {elementType: 'card'}));
        input.addEventListener('blur', () => this._emit('blur', {elementType: 'card'}));
        input.addEventListener('keydown', (event) => {
          if (event.key === 'Enter') this._emit('submit', {elementType: 'card'});
        });
        this._inputs[field.name] = input;
        group.appendChild(input);
      });
      if (this._options.disabled) this.update({disabled: true});
      this._domChildren.push(group);
      domElement.appendChild(group);
      setTimeout(() => this._emit('ready', {elementType: 'card'}), 0);
    }

    _read() {
      const v = name => (this._inputs[name].value || '').trim();
      const number = v('number').replace(/[\s-]/g, '');
      const year = v('exp_year');
      return {
        card: {
          number,
          exp_month: v('exp_month'),
          exp_year: year.length === 2 ? '20' + year : year,
          cvc: v('cvc'),
        },
        postal_code: v('postal_code'),
      };
    }

    _validation() {
      const value = this._read();
      const c = value.card;
      const empty = !c.number && !c.exp_month && !c.exp_year && !c.cvc;
      let error;
      if (c.number.length < 13) {
        error = {type: 'validation_error', code: 'incomplete_number',
                 message: 'Your card number is incomplete.'};
      } else if (!c.exp_month || !c.exp_year || c.exp_year.length !== 4) {
        error = {type: 'validation_error', code: 'incomplete_expiry',
                 message: "Your card's expiration date is incomplete."};
      } else if (c.cvc.length < 3) {
        error = {type: 'validation_error', code: 'incomplete_cvc',
                 message: "Your card's security code is incomplete."};
      }
      return {value, empty, complete: !error, error};
    }

    _changed(event) {
      const state = this._validation();
      this.value = state.value;
      const t = event.target, i = this._inputs;
      if (t === i.number && state.value.card.number.length >= 16) {
        i.exp_month.focus();
      } else if (t === i.exp_month && t.value.length === 2) {
        i.exp_year.focus();
      } else if (t === i.exp_year && t.value.length === 2) {
        i.cvc.focus();
      } else if (t === i.cvc && t.value.length >= 3 && state.value.card.number[0] !== '3') {
        i.postal_code.focus();
      }
      const partialError = state.empty || state.complete ? undefined :
        (t === i.postal_code || t === i.cvc ? state.error : undefined);
      this._emit('change', {
        elementType: 'card', empty: state.empty, complete: state.complete,
        error: partialError, brand: brandOf(state.value.card.number),
        value: {postalCode: state.value.postal_code},
      });
    }

    _emit(name, event) {
      (this.listeners[name] || []).forEach(handler => handler(event));
    }

    on(event, handler) {
      this.listeners[event] = this.listeners[event] || [];
      this.listeners[event].push(handler);
      return this;
    }

    off(event, handler) {
      this.listeners[event] = (this.listeners[event] || []).filter(h => h !== handler);
      return this;
    }

    focus() { if (this._inputs) this._inputs.number.focus(); }

    blur() { if (this._inputs && document.activeElement) document.activeElement.blur(); }

    clear() {
      if (!this._inputs) return;
      Object.values(this._inputs).forEach(input => { input.value = ''; });
      this.value = undefined;
    }

    update(options) {
      Object.assign(this._options, options || {});
      if (this._inputs && 'disabled' in (options || {})) {
        Object.values(this._inputs).forEach(input => { input.disabled = !!options.disabled; });
      }
    }

    unmount() {
      while (this._domChildren.length) this._domChildren.pop().remove();
      this._inputs = undefined;
    }

    destroy() {
      this.unmount();
      if (this._stripeElements._cardElement === this) this._stripeElements._cardElement = null;
    }
  }

  function elementData(element) {
    if (!(element instanceof Element) || !element._inputs) {
      return {error: integrationError('The card Element is not mounted.').error};
    }
    const state = element._validation();
    if (state.error) return {error: state.error};
    return {value: state.value};
  }

  function Stripe(apiKey, stripeOptions) {
    if (typeof apiKey !== 'string' || !apiKey.startsWith('pk_')) {
      throw new Error('Stripe stand-in: please call Stripe() with your publishable key.');
    }

    async function createPaymentMethodFrom(data) {
      // data: {type: 'card', card: Element | {token}, billing_details, metadata}
      if (!data || (data.type && data.type !== 'card')) {
        return integrationError('Only type "card" is supported by the offline Stripe.js.');
      }
      const params = {key: apiKey, type: 'card', payment_user_agent: 'fakestripe.js'};
      let billing = Object.assign({}, data.billing_details || {});
      if (data.card instanceof Element) {
        const read = elementData(data.card);
        if (read.error) return {error: read.error};
        params.card = read.value.card;
        if (read.value.postal_code) {
          billing.address = Object.assign({postal_code: read.value.postal_code},
                                          billing.address || {});
        }
      } else if (data.card && typeof data.card === 'object') {
        params.card = data.card;
      } else {
        return integrationError('Missing value for createPaymentMethod: card should be a ' +
                                'card Element.');
      }
      if (Object.keys(billing).length) params.billing_details = billing;
      if (data.metadata) params.metadata = data.metadata;
      const res = await api('POST', '/v1/payment_methods', params);
      return res.error ? {error: res.error} : {paymentMethod: res.body};
    }

    function resultOf(pi) {
      if (['succeeded', 'processing', 'requires_capture'].includes(pi.status)) {
        return {paymentIntent: pi};
      }
      const lpe = pi.last_payment_error || {};
      return {error: Object.assign({
        type: 'card_error',
        code: lpe.code || 'payment_intent_unexpected_state',
        message: lpe.message || ('The PaymentIntent has status ' + pi.status + '.'),
      }, lpe, {payment_intent: pi})};
    }

    async function authenticate(pi, clientSecret) {
      const success = await openModal(
        'Test payment: complete or fail the 3D Secure authentication.',
        'Complete authentication', 'Fail authentication');
      const res = await api('POST', '/v1/payment_intents/' + pi.id + '/_authenticate?success=' +
                            success, {key: apiKey, client_secret: clientSecret});
      if (res.error) return {error: res.error};
      const result = resultOf(res.body);
      if (result.error && !success) {
        result.error.code = 'payment_intent_authentication_failure';
        result.error.message = result.error.message || AUTH_FAILED;
      }
      return result;
    }

    const stripe = {
      _apiKey: apiKey,
      _apiBase: API_BASE,
      elements: (options) => ({
        _cardElement: null,
        _options: options || {},
        create: function (type, elementOptions) {
          if (type !== 'card') {
            throw new Error('The offline Stripe.js only supports the "card" Element.');
          }
          if (this._cardElement) {
            throw new Error('Can only create one Element of type card.');
          }
          this._cardElement = new Element(this, type, elementOptions);
          return this._cardElement;
        },
        getElement: function (type) {
          return type === 'card' || type === Element ? this._cardElement : null;
        },
        update: function () {},
      }),

      createPaymentMethod: async (typeOrData, element, extra) => {
        try {
          if (typeof typeOrData === 'string') {  // legacy (type, element, data) signature
            return await createPaymentMethodFrom(Object.assign(
              {type: typeOrData, card: element}, extra || {}));
          }
          return await createPaymentMethodFrom(typeOrData);
        } catch (err) {
          return {error: {type: 'api_error', message: String(err)}};
        }
      },

      confirmCardPayment: async (clientSecret, data, options) => {
        try {
          const piId = intentId(clientSecret, 'pi');
          if (!piId) return integrationError('Invalid value for confirmCardPayment: ' +
                                             'clientSecret should be a client secret.');
          data = data || {};
          const params = {key: apiKey, client_secret: clientSecret, use_stripe_sdk: true};
          const pm = data.payment_method;
          if (typeof pm === 'string') {
            params.payment_method = pm;
          } else if (pm && typeof pm === 'object') {
            const created = await createPaymentMethodFrom(Object.assign({type: 'card'}, pm));
            if (created.error) return {error: created.error};
            params.payment_method = created.paymentMethod.id;
          }
          if (data.setup_future_usage) params.setup_future_usage = data.setup_future_usage;
          if (data.receipt_email) params.receipt_email = data.receipt_email;
          if (data.return_url) params.return_url = data.return_url;
          const res = await api('POST', '/v1/payment_intents/' + piId + '/confirm', params);
          if (res.error) return {error: res.error};
          const pi = res.body;
          if (pi.status === 'requires_action') {
            if (options && options.handleActions === false) return {paymentIntent: pi};
            return await authenticate(pi, clientSecret);
          }
          return resultOf(pi);
        } catch (err) {
          return {error: {type: 'api_error', message: String(err)}};
        }
      },

      handleCardPayment: async function (clientSecret, element, data) {  // deprecated API
        return this.confirmCardPayment(clientSecret, {
          payment_method: Object.assign({card: element}, (data && data.payment_method_data) ||
                                        {}),
        });
      },

      handleCardAction: async (clientSecret) => {
        const piId = intentId(clientSecret, 'pi');
        if (!piId) return integrationError('Invalid client secret.');
        const res = await api('GET', '/v1/payment_intents/' + piId,
                              {key: apiKey, client_secret: clientSecret});
        if (res.error) return {error: res.error};
        if (res.body.status !== 'requires_action') return resultOf(res.body);
        return authenticate(res.body, clientSecret);
      },

      retrievePaymentIntent: async (clientSecret) => {
        const piId = intentId(clientSecret, 'pi');
        if (!piId) return integrationError('Invalid client secret.');
        const res = await api('GET', '/v1/payment_intents/' + piId,
                              {key: apiKey, client_secret: clientSecret});
        return res.error ? {error: res.error} : {paymentIntent: res.body};
      },

      createToken: async (element) => {
        const read = elementData(element);
        if (read.error) return {error: read.error};
        const res = await api('POST', '/v1/tokens', {key: apiKey, card: read.value.card});
        return res.error ? {error: res.error} : {token: res.body};
      },

      createSource: async (source) => {
        const res = await api('POST', '/v1/sources', Object.assign({key: apiKey}, source));
        return res.error ? {error: res.error} : {source: res.body};
      },

      retrieveSource: async () => integrationError('retrieveSource is not supported offline.'),

      confirmCardSetup: async (clientSecret, data) => {
        try {
          const seti = intentId(clientSecret, 'seti');
          if (!seti) return integrationError('Invalid client secret.');
          data = data || {};
          const params = {key: apiKey, use_stripe_sdk: true, client_secret: clientSecret};
          const pm = data.payment_method;
          if (typeof pm === 'string') {
            params.payment_method = pm;
          } else if (pm && pm.card instanceof Element) {
            const read = elementData(pm.card);
            if (read.error) return {error: read.error};
            const billing = Object.assign({}, pm.billing_details || {});
            if (read.value.postal_code) {
              billing.address = Object.assign({postal_code: read.value.postal_code},
                                              billing.address || {});
            }
            params.payment_method_data = {type: 'card', card: read.value.card,
                                          billing_details: billing};
          }
          let res = await api('POST', '/v1/setup_intents/' + seti + '/confirm', params);
          if (res.error) return {error: res.error};
          if (res.body.status === 'requires_action') {
            const ok = await openModal(
              'Test card setup: complete or fail the 3D Secure authentication.',
              'Complete authentication', 'Fail authentication');
            res = await api('POST', '/v1/setup_intents/' + seti + (ok ? '/confirm' : '/cancel'),
                            {key: apiKey, use_stripe_sdk: true, client_secret: clientSecret});
            if (res.error) return {error: res.error};
            if (res.body.status !== 'succeeded') {
              return {error: {type: 'card_error', code: 'setup_intent_authentication_failure',
                              message: 'The latest attempt to set up the payment method has ' +
                                       'failed because authentication failed.',
                              setup_intent: res.body}};
            }
          }
          if (res.body.status === 'succeeded') return {setupIntent: res.body};
          return {error: {type: 'invalid_request_error',
                          message: 'setup_intent has status ' + res.body.status}};
        } catch (err) {
          return {error: {type: 'api_error', message: String(err)}};
        }
      },

      handleCardSetup: async function (clientSecret, element, data) {  // deprecated API
        return this.confirmCardSetup(clientSecret, {
          payment_method: Object.assign({card: element}, (data && data.payment_method_data) ||
                                        {}),
        });
      },

      _registerWrapper: () => {},
      registerAppInfo: () => {},
    };
    return stripe;
  }

  window.Stripe = Stripe;
  window.Stripe.version = 3;
  console.log('fakestripe: offline Stripe.js stand-in loaded; API base ' + API_BASE);
})();
