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
 *   - element 'change' events carry {elementType, empty, complete, error, brand};
 *   - the Payment Element (card only): stripe.elements({mode, amount, currency, ...}) (deferred
 *     intent) and stripe.elements({clientSecret}), elements.create('payment') rendering a form of
 *     visibly labelled inputs with Stripe's inline validation messages, 'change' events with
 *     {elementType, empty, complete, collapsed, value: {type}}, elements.submit() (validation,
 *     {error} or {selectedPaymentMethod}), elements.update()/fetchUpdates() (a deferred group moves
 *     between modes and amounts, e.g. monthly/yearly, a discount, a free trial's 'setup' mode, and
 *     keeps what was typed);
 *   - stripe.confirmPayment() and stripe.confirmSetup() ({elements, clientSecret, confirmParams:
 *     {return_url, payment_method_data}, redirect: 'always' | 'if_required'}, with the 3-D Secure
 *     box and a real navigation to return_url when redirecting; confirmSetup also confirms a
 *     subscription's pending SetupIntent, a free trial's card), handleNextAction() (also an invoice's
 *     PaymentIntent the server confirmed, e.g. a plan switch's prorated charge),
 *     retrieveSetupIntent(), createPaymentMethod({elements}); confirmCardSetup() answers the 3-D
 *     Secure box through the SetupIntent's _authenticate route; integration mistakes reject with
 *     an IntegrationError, as Stripe.js does.
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

  // -- Payment Element (card only) ------------------------------------------------------------
  // What Stripe's Payment Element shows for a card: number, expiry, security code, country and
  // (for some countries) a postal code, each with a visible label and Stripe's inline message.
  class IntegrationError extends Error {
    constructor(message) {
      super(message);
      this.name = 'IntegrationError';
    }
  }

  const COUNTRIES = [
    ['US', 'United States'], ['CA', 'Canada'], ['GB', 'United Kingdom'], ['AU', 'Australia'],
    ['DE', 'Germany'], ['FR', 'France'], ['IE', 'Ireland'], ['NL', 'Netherlands'],
    ['ES', 'Spain'], ['IT', 'Italy'], ['JP', 'Japan'],
  ];
  // Countries whose cards Stripe checks against a postal code, and what it is called there.
  const POSTAL = {US: 'ZIP code', CA: 'Postal code', GB: 'Postal code'};
  const DANGER = '#df1b41';
  let uid = 0;

  function luhnOk(number) {
    let total = 0;
    for (let i = 0; i < number.length; i++) {
      let d = Number(number[number.length - 1 - i]);
      if (i % 2) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      total += d;
    }
    return total % 10 === 0;
  }

  function cardLength(number) {
    return /^3[47]/.test(number) ? 15 : /^3(0[0-5]|[68])/.test(number) ? 14 : 16;
  }

  function formatNumber(digits) {
    if (/^3[47]/.test(digits)) {
      return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10, 15)].filter(Boolean)
        .join(' ');
    }
    return digits.slice(0, 19).replace(/(\d{4})(?=\d)/g, '$1 ');
  }

  function formatExpiry(value) {
    let digits = value.replace(/\D/g, '');
    if (/^[2-9]$/.test(digits)) digits = '0' + digits;  // "4" is April: 04
    digits = digits.slice(0, 4);
    return digits.length > 2 ? digits.slice(0, 2) + ' / ' + digits.slice(2) : digits;
  }

  function validationError(code, message) {
    return {type: 'validation_error', code, message};
  }

  class PaymentElement {
    constructor(group, options) {
      this._group = group;
      this._options = Object.assign({}, options || {});
      this.listeners = {};
      this._root = null;
      this._inputs = undefined;
      this._shown = {};  // field -> error shown under it
      this._touched = {};
    }

    mount(domElement) {
      if (typeof domElement === 'string') domElement = document.querySelector(domElement);
      if (!(domElement instanceof window.Element)) {
        throw new IntegrationError('Invalid DOM element. Make sure to call mount() with a ' +
                                   'valid DOM element or selector.');
      }
      if (this._group._elements.payment !== this) {
        throw new IntegrationError('This Element has already been destroyed. Please create a ' +
                                   'new one.');
      }
      if (this._root) {
        if (domElement === this._root.parentElement) return;
        throw new IntegrationError('This Element is already mounted. Use `unmount()` to ' +
                                   'unmount the Element before re-mounting.');
      }
      const look = Object.assign({}, (this._group._options.appearance || {}).variables || {});
      this._look = {
        primary: look.colorPrimary || '#0570de',
        danger: look.colorDanger || DANGER,
        text: look.colorText || '#30313d',
        background: look.colorBackground || '#ffffff',
        radius: look.borderRadius || '5px',
        font: look.fontFamily || 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        size: look.fontSizeBase || '16px',
      };
      const root = document.createElement('div');
      root.className = 'fakestripe-payment-element';
      root.setAttribute('data-fakestripe', 'payment-element');
      Object.assign(root.style, {fontFamily: this._look.font, color: this._look.text});
      const caption = document.createElement('p');
      caption.textContent = 'Card (offline test form)';
      Object.assign(caption.style, {margin: '0 0 8px', fontSize: '14px', fontWeight: '600'});
      root.appendChild(caption);

      const id = 'fakestripe-pe-' + (++uid);
      const defaults = (((this._options.defaultValues || {}).billingDetails || {}).address || {});
      const country = COUNTRIES.some(c => c[0] === defaults.country) ? defaults.country : 'US';
      this._inputs = {};
      this._errors = {};
      this._fields = {};
      const rows = [
        [{name: 'number', label: 'Card number', testId: 'card-number', autocomplete: 'cc-number',
          inputMode: 'numeric', placeholder: '1234 1234 1234 1234', maxLength: 23}],
        [{name: 'expiry', label: 'Expiration date', testId: 'card-expiry',
          autocomplete: 'cc-exp', inputMode: 'numeric', placeholder: 'MM / YY', maxLength: 7},
         {name: 'cvc', label: 'Security code', testId: 'card-cvc', autocomplete: 'cc-csc',
          inputMode: 'numeric', placeholder: 'CVC', maxLength: 4}],
        [{name: 'country', label: 'Country', testId: 'card-country', autocomplete: 'country',
          select: true},
         {name: 'postal_code', label: POSTAL[country] || 'Postal code',
          testId: 'card-postal-code', autocomplete: 'postal-code', inputMode: 'text',
          placeholder: country === 'US' ? '12345' : '', maxLength: 10}],
      ];
      for (const row of rows) {
        const line = document.createElement('div');
        Object.assign(line.style, {display: 'flex', flexWrap: 'wrap', gap: '12px',
                                   marginBottom: '12px'});
        for (const field of row) line.appendChild(this._field(id, field, country));
        root.appendChild(line);
      }
      this._inputs.country.value = country;
      this._showPostal();
      this._root = root;
      domElement.appendChild(root);
      if (this._options.readOnly) this.update({readOnly: true});
      setTimeout(() => this._emit('ready', {elementType: 'payment'}), 0);
    }

    _field(id, field, country) {
      const box = document.createElement('div');
      Object.assign(box.style, {flex: '1 1 140px', minWidth: '0'});
      const label = document.createElement('label');
      const input = document.createElement(field.select ? 'select' : 'input');
      const error = document.createElement('div');
      input.id = id + '-' + field.name;
      error.id = input.id + '-error';
      label.htmlFor = input.id;
      label.textContent = field.label;
      Object.assign(label.style, {display: 'block', fontSize: '14px', marginBottom: '4px'});
      if (field.select) {
        for (const [code, name] of COUNTRIES) {
          const option = document.createElement('option');
          option.value = code;
          option.textContent = name;
          input.appendChild(option);
        }
        input.addEventListener('change', () => {
          this._showPostal();
          this._changed();
        });
      } else {
        input.type = 'text';
        input.setAttribute('inputmode', field.inputMode);
        input.setAttribute('placeholder', field.placeholder);
        input.maxLength = field.maxLength;
        input.spellcheck = false;
        input.addEventListener('input', () => this._input(field.name));
        input.addEventListener('blur', () => {
          // Like Stripe: a half-typed field says what is wrong once the customer leaves it.
          if (input.value) this._touched[field.name] = true;
          this._refreshErrors();
          this._emit('blur', {elementType: 'payment'});
        });
      }
      input.name = 'fakestripe-' + field.name;
      input.setAttribute('autocomplete', field.autocomplete);
      input.setAttribute('data-test', field.testId);
      input.addEventListener('focus', () => this._emit('focus', {elementType: 'payment'}));
      input.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') this._emit('escape', {elementType: 'payment'});
      });
      Object.assign(input.style, {
        display: 'block', width: '100%', height: '44px', boxSizing: 'border-box',
        fontSize: this._look.size, fontFamily: 'inherit', padding: '0 12px', color: this._look.text,
        background: this._look.background, border: '1px solid #e0e0e6',
        borderRadius: this._look.radius, boxShadow: '0 1px 1px rgba(0, 0, 0, 0.03)',
      });
      input.addEventListener('focus', () => {
        input.style.outline = '2px solid ' + this._look.primary;
        input.style.outlineOffset = '1px';
      });
      input.addEventListener('blur', () => { input.style.outline = ''; });
      Object.assign(error.style, {color: this._look.danger, fontSize: '14px', marginTop: '4px'});
      error.hidden = true;
      box.append(label, input, error);
      this._inputs[field.name] = input;
      this._errors[field.name] = error;
      this._fields[field.name] = {box, label};
      return box;
    }

    _country() {
      return this._inputs.country.value;
    }

    _showPostal() {
      const country = this._country();
      const needed = Boolean(POSTAL[country]);
      const {box, label} = this._fields.postal_code;
      box.style.display = needed ? '' : 'none';
      label.textContent = POSTAL[country] || 'Postal code';
      this._inputs.postal_code.setAttribute('placeholder', country === 'US' ? '12345' : '');
      if (!needed) this._inputs.postal_code.value = '';
    }

    _input(name) {
      const input = this._inputs[name];
      if (name === 'number') {
        const digits = input.value.replace(/\D/g, '');
        input.value = formatNumber(digits);
        if (digits.length === cardLength(digits) && luhnOk(digits)) this._inputs.expiry.focus();
      } else if (name === 'expiry') {
        input.value = formatExpiry(input.value);
        if (input.value.length === 7 && !this._check().expiry) this._inputs.cvc.focus();
      } else if (name === 'cvc') {
        input.value = input.value.replace(/\D/g, '').slice(0, 4);
      }
      this._refreshErrors();
      this._changed();
    }

    _read() {
      const v = name => (this._inputs[name].value || '').trim();
      const expiry = v('expiry').replace(/\D/g, '');
      return {
        number: v('number').replace(/\D/g, ''),
        exp_month: expiry.slice(0, 2),
        exp_year: expiry.length === 4 ? '20' + expiry.slice(2) : '',
        cvc: v('cvc'),
        country: this._country(),
        postal_code: POSTAL[this._country()] ? v('postal_code') : '',
      };
    }

    // field -> its validation error (Stripe's codes and messages), for every field in error.
    _check() {
      const c = this._read();
      const problems = {};
      if (c.number.length < cardLength(c.number)) {
        problems.number = validationError('incomplete_number', 'Your card number is incomplete.');
      } else if (!luhnOk(c.number)) {
        problems.number = validationError('invalid_number', 'Your card number is invalid.');
      }
      const expiry = this._inputs.expiry.value.replace(/\D/g, '');
      const now = new Date();
      const year = 2000 + Number(expiry.slice(2));
      const month = Number(expiry.slice(0, 2));
      if (expiry.length < 4) {
        problems.expiry = validationError('incomplete_expiry',
                                          "Your card's expiration date is incomplete.");
      } else if (month < 1 || month > 12) {
        problems.expiry = validationError('invalid_expiry_month',
                                          "Your card's expiration date is invalid.");
      } else if (year < now.getFullYear()) {
        problems.expiry = validationError('invalid_expiry_year_past',
                                          "Your card's expiration year is in the past.");
      } else if (year === now.getFullYear() && month < now.getMonth() + 1) {
        problems.expiry = validationError('invalid_expiry_month_past',
                                          "Your card's expiration date is in the past.");
      }
      if (c.cvc.length < (/^3[47]/.test(c.number) ? 4 : 3)) {
        problems.cvc = validationError('incomplete_cvc',
                                       "Your card's security code is incomplete.");
      }
      const postal = POSTAL[c.country];
      if (postal && c.postal_code.length < (c.country === 'US' ? 5 : 3)) {
        problems.postal_code = c.country === 'US'
          ? validationError('incomplete_zip', 'Your ZIP is incomplete.')
          : validationError('incomplete_zip', 'Your postal code is incomplete.');
      }
      return problems;
    }

    _refreshErrors() {
      const problems = this._check();
      for (const name of Object.keys(this._errors)) {
        const problem = this._touched[name] ? problems[name] : undefined;
        this._showError(name, problem);
      }
      return problems;
    }

    _showError(name, problem) {
      const input = this._inputs[name];
      const error = this._errors[name];
      error.textContent = problem ? problem.message : '';
      error.hidden = !problem;
      input.style.borderColor = problem ? this._look.danger : '#e0e0e6';
      if (problem) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', error.id);
      } else {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
      }
    }

    _state() {
      const c = this._read();
      const empty = !c.number && !this._inputs.expiry.value && !c.cvc && !c.postal_code;
      return {empty, complete: Object.keys(this._check()).length === 0};
    }

    _changed() {
      const state = this._state();
      this._emit('change', {
        elementType: 'payment', empty: state.empty, complete: state.complete, collapsed: false,
        value: {type: 'card'},
      });
    }

    // elements.submit() and confirm*(): every field is checked, the first wrong one is focused.
    _validateAll() {
      if (!this._inputs) {
        return {error: {type: 'invalid_request_error',
                        message: 'The Payment Element is not mounted.'}};
      }
      for (const name of Object.keys(this._inputs)) this._touched[name] = true;
      const problems = this._refreshErrors();
      const first = ['number', 'expiry', 'cvc', 'postal_code'].find(name => problems[name]);
      if (first) {
        this._inputs[first].focus();
        return {error: problems[first]};
      }
      return {};
    }

    _paymentMethodData(extra) {
      const c = this._read();
      extra = extra || {};
      const billing = Object.assign({}, extra.billing_details || {});
      billing.address = Object.assign({country: c.country},
                                      c.postal_code ? {postal_code: c.postal_code} : {},
                                      billing.address || {});
      return Object.assign({}, extra, {
        type: 'card',
        card: {number: c.number, exp_month: c.exp_month, exp_year: c.exp_year, cvc: c.cvc},
        billing_details: billing,
      });
    }

    _emit(name, event) {
      (this.listeners[name] || []).slice().forEach(handler => handler(event));
    }

    on(event, handler) {
      this.listeners[event] = this.listeners[event] || [];
      this.listeners[event].push(handler);
      return this;
    }

    once(event, handler) {
      const wrapper = (e) => {
        this.off(event, wrapper);
        handler(e);
      };
      return this.on(event, wrapper);
    }

    off(event, handler) {
      this.listeners[event] = handler
        ? (this.listeners[event] || []).filter(h => h !== handler) : [];
      return this;
    }

    focus() { if (this._inputs) this._inputs.number.focus(); }

    blur() {
      if (this._root && this._root.contains(document.activeElement)) document.activeElement.blur();
    }

    clear() {
      if (!this._inputs) return;
      for (const name of ['number', 'expiry', 'cvc', 'postal_code']) this._inputs[name].value = '';
      this._touched = {};
      this._refreshErrors();
      this._changed();
    }

    collapse() { return this; }

    update(options) {
      Object.assign(this._options, options || {});
      if (this._inputs && 'readOnly' in (options || {})) {
        for (const input of Object.values(this._inputs)) {
          if (input.tagName === 'SELECT') input.disabled = Boolean(options.readOnly);
          else input.readOnly = Boolean(options.readOnly);
        }
      }
    }

    unmount() {
      if (this._root) this._root.remove();
      this._root = null;
      this._inputs = undefined;
      this._touched = {};
    }

    destroy() {
      this.unmount();
      if (this._group._elements.payment === this) delete this._group._elements.payment;
      this._emit('destroy', {elementType: 'payment'});
    }
  }

  // -- Elements group ---------------------------------------------------------------------------
  const MODES = ['payment', 'setup', 'subscription'];

  function checkGroupOptions(options, where) {
    const mode = options.mode;
    if (options.clientSecret !== undefined) {
      if (mode !== undefined) {
        throw new IntegrationError(where + ': only one of clientSecret or mode may be specified.');
      }
      if (!intentId(options.clientSecret, 'pi') && !intentId(options.clientSecret, 'seti')) {
        throw new IntegrationError('Invalid value for ' + where + ': clientSecret should be a ' +
                                   'client secret of the form ${id}_secret_${secret}. You ' +
                                   'specified: ' + options.clientSecret + '.');
      }
      return;
    }
    if (mode === undefined) return;  // the card Element needs neither
    if (!MODES.includes(mode)) {
      throw new IntegrationError('Invalid value for ' + where + ': mode should be one of the ' +
                                 'following strings: payment, setup, subscription. You ' +
                                 'specified: ' + mode + '.');
    }
    if (mode !== 'setup' && !(Number.isInteger(options.amount) && options.amount >= 0)) {
      throw new IntegrationError('Invalid value for ' + where + ': amount should be a ' +
                                 'non-negative integer (in the smallest currency unit) when ' +
                                 'mode is ' + mode + '.');
    }
    const currency = options.currency;
    if ((mode !== 'setup' || currency !== undefined) &&
        !(typeof currency === 'string' && /^[a-z]{3}$/.test(currency))) {
      throw new IntegrationError('Invalid value for ' + where + ': currency should be a ' +
                                 'lowercase three-letter ISO currency code. You specified: ' +
                                 currency + '.');
    }
  }

  function createElements(options) {
    options = Object.assign({}, options || {});
    checkGroupOptions(options, 'elements()');
    return {
      _fakestripeElements: true,
      _cardElement: null,
      _elements: {},
      _options: options,
      _submitted: false,
      create: function (type, elementOptions) {
        if (type === 'card') {
          if (this._cardElement) throw new IntegrationError('Can only create one Element of ' +
                                                            'type card.');
          this._cardElement = new Element(this, type, elementOptions);
          return this._cardElement;
        }
        if (type !== 'payment') {
          throw new IntegrationError('The offline Stripe.js supports the "payment" and "card" ' +
                                     'Elements only, not "' + type + '".');
        }
        if (!this._options.clientSecret && !this._options.mode) {
          throw new IntegrationError('In order to create a payment element, you must pass a ' +
                                     'valid PaymentIntent or SetupIntent client secret when ' +
                                     'creating the Elements group, or a mode. e.g. ' +
                                     'stripe.elements({clientSecret: "{{CLIENT_SECRET}}"})');
        }
        if (this._elements.payment) {
          throw new IntegrationError('Can only create one Element of type payment.');
        }
        this._elements.payment = new PaymentElement(this, elementOptions);
        return this._elements.payment;
      },
      getElement: function (type) {
        if (type === 'card' || type === Element) return this._cardElement;
        if (type === 'payment' || type === PaymentElement) return this._elements.payment || null;
        return null;
      },
      update: function (changes) {
        const next = Object.assign({}, this._options, changes || {});
        if (this._options.clientSecret && changes && ('mode' in changes)) {
          throw new IntegrationError('elements.update(): mode cannot be changed on an Elements ' +
                                     'group created with a clientSecret.');
        }
        checkGroupOptions(next, 'elements.update()');
        this._options = next;
      },
      fetchUpdates: async function () { return {}; },
      submit: async function () {
        const element = this._elements.payment;
        if (!element || !element._inputs) {
          return {error: {type: 'invalid_request_error', code: 'elements_not_mounted',
                          message: 'elements.submit(): there is no mounted Payment Element ' +
                                   'in this Elements group.'}};
        }
        const checked = element._validateAll();
        this._submitted = !checked.error;
        return checked.error ? {error: checked.error} : {selectedPaymentMethod: 'card'};
      },
    };
  }

  function isElements(value) {
    return Boolean(value && value._fakestripeElements);
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

    function setupResultOf(si) {
      if (['succeeded', 'processing'].includes(si.status)) return {setupIntent: si};
      const lse = si.last_setup_error || {};
      return {error: Object.assign({
        type: 'invalid_request_error',
        code: 'setup_intent_unexpected_state',
        message: lse.message || ('The SetupIntent has status ' + si.status + '.'),
      }, lse, {setup_intent: si})};
    }

    async function authenticateSetup(si, clientSecret) {
      const success = await openModal(
        'Test card setup: complete or fail the 3D Secure authentication.',
        'Complete authentication', 'Fail authentication');
      const res = await api('POST', '/v1/setup_intents/' + si.id + '/_authenticate?success=' +
                            success, {key: apiKey, client_secret: clientSecret});
      if (res.error) return {error: res.error};
      return setupResultOf(res.body);
    }

    // Where a redirecting confirmation sends the customer, with the parameters Stripe adds.
    function returnUrlFor(returnUrl, kind, intent, clientSecret) {
      const url = new URL(returnUrl, window.location.href);
      url.searchParams.set(kind, intent.id);
      url.searchParams.set(kind + '_client_secret', clientSecret);
      url.searchParams.set('redirect_status', intent.status === 'succeeded' ? 'succeeded' :
                           intent.status === 'processing' ? 'pending' : 'failed');
      return url.toString();
    }

    // confirmPayment / confirmSetup: one flow for both kinds of intent.
    async function confirmIntent(kind, options) {
      const fn = kind === 'payment' ? 'confirmPayment' : 'confirmSetup';
      const prefix = kind === 'payment' ? 'pi' : 'seti';
      const path = kind === 'payment' ? '/v1/payment_intents/' : '/v1/setup_intents/';
      options = options || {};
      const confirmParams = Object.assign({}, options.confirmParams || {});
      const redirect = options.redirect || 'always';
      if (!['always', 'if_required'].includes(redirect)) {
        throw new IntegrationError('Invalid value for ' + fn + '(): redirect should be one of ' +
                                   'the following strings: always, if_required.');
      }
      let clientSecret = options.clientSecret;
      let element = null;
      const elements = options.elements;
      if (elements !== undefined) {
        if (!isElements(elements)) {
          throw new IntegrationError('Invalid value for ' + fn + '(): elements should be an ' +
                                     'Elements group. You specified: ' + typeof elements + '.');
        }
        element = elements._elements.payment;
        if (!element || !element._inputs) {
          throw new IntegrationError('Invalid value for ' + fn + '(): elements should have a ' +
                                     'mounted Payment Element.');
        }
        const groupSecret = elements._options.clientSecret;
        if (groupSecret) {
          if (clientSecret && clientSecret !== groupSecret) {
            throw new IntegrationError(fn + '(): the clientSecret does not match the one the ' +
                                       'Elements group was created with.');
          }
          clientSecret = groupSecret;
        } else {
          if (!elements._submitted) {
            throw new IntegrationError('elements.submit() must be called before stripe.' + fn +
                                       '(). Call elements.submit() as soon as your customer ' +
                                       'presses pay, prior to any asynchronous work.');
          }
          const mode = elements._options.mode;
          if (kind === 'payment' && mode === 'setup') {
            throw new IntegrationError('stripe.confirmPayment(): the Elements group was ' +
                                       'created with mode "setup"; use stripe.confirmSetup().');
          }
          if (kind === 'setup' && mode === 'payment') {
            throw new IntegrationError('stripe.confirmSetup(): the Elements group was created ' +
                                       'with mode "payment"; use stripe.confirmPayment().');
          }
        }
        elements._submitted = false;  // the next confirmation submits again
      } else if (typeof confirmParams.payment_method !== 'string') {
        throw new IntegrationError('Invalid value for ' + fn + '(): pass elements, or ' +
                                   'confirmParams.payment_method with a PaymentMethod id.');
      }
      const id = intentId(clientSecret, prefix);
      if (!id) {
        throw new IntegrationError('Invalid value for ' + fn + '(): clientSecret should be a ' +
                                   (kind === 'payment' ? 'PaymentIntent' : 'SetupIntent') +
                                   ' client secret. You specified: ' + clientSecret + '.');
      }
      if (redirect === 'always' && !confirmParams.return_url) {
        throw new IntegrationError('stripe.' + fn + '(): the `confirmParams.return_url` ' +
                                   'argument is required unless passing `redirect: ' +
                                   "'if_required'`");
      }
      try {
        const params = {key: apiKey, client_secret: clientSecret, use_stripe_sdk: true};
        if (confirmParams.return_url) params.return_url = confirmParams.return_url;
        if (kind === 'payment' && confirmParams.receipt_email) {
          params.receipt_email = confirmParams.receipt_email;
        }
        if (element) {
          const checked = element._validateAll();
          if (checked.error) return {error: checked.error};
          params.payment_method_data = element._paymentMethodData(
            confirmParams.payment_method_data);
        } else {
          params.payment_method = confirmParams.payment_method;
        }
        if (element) element.update({readOnly: true});
        let result;
        try {
          const res = await api('POST', path + id + '/confirm', params);
          if (res.error) return {error: res.error};
          const intent = res.body;
          if (intent.status === 'requires_action') {
            result = kind === 'payment' ? await authenticate(intent, clientSecret)
              : await authenticateSetup(intent, clientSecret);
          } else {
            result = kind === 'payment' ? resultOf(intent) : setupResultOf(intent);
          }
        } finally {
          if (element) element.update({readOnly: false});
        }
        const done = result.paymentIntent || result.setupIntent;
        if (done && redirect === 'always') {
          window.location.assign(returnUrlFor(confirmParams.return_url,
                                              kind === 'payment' ? 'payment_intent'
                                                : 'setup_intent', done, clientSecret));
          return new Promise(() => {});  // the page is going away, as with Stripe
        }
        return result;
      } catch (err) {
        return {error: {type: 'api_error', message: String(err)}};
      }
    }

    async function nextAction(clientSecret) {
      const pi = intentId(clientSecret, 'pi');
      const seti = intentId(clientSecret, 'seti');
      if (!pi && !seti) {
        throw new IntegrationError('Invalid value for handleNextAction(): clientSecret should ' +
                                   'be a PaymentIntent or SetupIntent client secret.');
      }
      const path = pi ? '/v1/payment_intents/' + pi : '/v1/setup_intents/' + seti;
      const res = await api('GET', path, {key: apiKey, client_secret: clientSecret});
      if (res.error) return {error: res.error};
      if (res.body.status !== 'requires_action') {
        return pi ? resultOf(res.body) : setupResultOf(res.body);
      }
      return pi ? authenticate(res.body, clientSecret) : authenticateSetup(res.body, clientSecret);
    }

    const stripe = {
      _apiKey: apiKey,
      _apiBase: API_BASE,
      elements: (options) => createElements(options),

      confirmPayment: (options) => confirmIntent('payment', options),

      confirmSetup: (options) => confirmIntent('setup', options),

      handleNextAction: async (options) => nextAction((options || {}).clientSecret),

      retrieveSetupIntent: async (clientSecret) => {
        const seti = intentId(clientSecret, 'seti');
        if (!seti) return integrationError('Invalid client secret.');
        const res = await api('GET', '/v1/setup_intents/' + seti,
                              {key: apiKey, client_secret: clientSecret});
        return res.error ? {error: res.error} : {setupIntent: res.body};
      },

      createPaymentMethod: async (typeOrData, element, extra) => {
        if (typeOrData && isElements(typeOrData.elements)) {  // from a Payment Element
          const elements = typeOrData.elements;
          const paymentElement = elements._elements.payment;
          if (elements._options.paymentMethodCreation !== 'manual') {
            throw new IntegrationError('stripe.createPaymentMethod(): create the Elements ' +
                                       "group with paymentMethodCreation: 'manual' first.");
          }
          if (!elements._submitted || !paymentElement || !paymentElement._inputs) {
            throw new IntegrationError('elements.submit() must be called before ' +
                                       'stripe.createPaymentMethod().');
          }
          elements._submitted = false;
          const data = paymentElement._paymentMethodData((typeOrData.params || {}));
          const res = await api('POST', '/v1/payment_methods',
                                Object.assign({key: apiKey}, data));
          return res.error ? {error: res.error} : {paymentMethod: res.body};
        }
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
          const res = await api('POST', '/v1/setup_intents/' + seti + '/confirm', params);
          if (res.error) return {error: res.error};
          if (res.body.status === 'requires_action') {
            return await authenticateSetup(res.body, clientSecret);
          }
          return setupResultOf(res.body);
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
