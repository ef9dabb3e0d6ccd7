import { afterEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createMemoryHistory, createRouter } from 'vue-router'
import { flush, PlainPage } from './helpers'

vi.mock('@/api/auth', () => ({
  LINKEDIN_LOGIN_URL: '/auth/login/linkedin-openidconnect/',
  ensureCsrfToken: vi.fn(async () => 'tok123'),
}))

const { default: LoginPage } = await import('@/pages/LoginPage.vue')

async function mountPage(path = '/login?next=/premium') {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/:rest(.*)*', component: { render: () => null } }],
  })
  await router.push(path)
  const wrapper = mount(LoginPage, { global: { plugins: [router], stubs: { QPage: PlainPage } } })
  await flush()
  return wrapper
}

afterEach(() => vi.restoreAllMocks())

describe('LoginPage', () => {
  it('posts the CSRF token and a same-site next to the LinkedIn start URL', async () => {
    const wrapper = await mountPage()
    const form = wrapper.get('[data-test="login-form"]')
    expect(form.attributes('action')).toBe('/auth/login/linkedin-openidconnect/?next=%2Fpremium')
    expect(form.get('input[name="csrfmiddlewaretoken"]').element.value).toBe('tok123')
    expect(wrapper.get('[data-test="login-reason"]').text()).toBe('Sign in first; then you can buy Premium.')
  })

  it('is usable again when the browser shows it from the back/forward cache', async () => {
    const wrapper = await mountPage()
    const form = wrapper.get('[data-test="login-form"]')
    form.element.addEventListener('submit', (e) => e.preventDefault()) // jsdom cannot navigate
    await form.trigger('submit')
    expect(wrapper.vm.submitting).toBe(true)
    window.dispatchEvent(new Event('pageshow'))
    expect(wrapper.vm.submitting).toBe(false)
  })

  it('shows a fixed sentence for each error code the server sends', async () => {
    const wrapper = await mountPage('/login?error=cancelled')
    expect(wrapper.get('[data-test="login-error"]').text()).toBe('You cancelled signing in with LinkedIn.')
    const session = await mountPage('/login?error=session')
    expect(session.get('[data-test="login-error"]').text()).toContain('please sign in again')
  })

  it('never shows text from the link itself (phishing)', async () => {
    const phishing = 'Your account is suspended. Call +1 555 0100 or visit evil.example to restore it.'
    for (const error of [phishing, 'access_denied', 'toString', '__proto__', '<b>bold</b>']) {
      const wrapper = await mountPage(`/login?error=${encodeURIComponent(error)}`)
      const alert = wrapper.get('[data-test="login-error"]')
      expect(alert.text()).toBe('Signing in with LinkedIn failed; please try again.')
      expect(wrapper.html()).not.toContain('evil.example')
      expect(wrapper.html()).not.toContain('<b>bold</b>')
    }
    const twice = await mountPage('/login?error=evil&error=cancelled')
    expect(twice.get('[data-test="login-error"]').text()).toBe(
      'Signing in with LinkedIn failed; please try again.',
    )
  })

  it('shows no alert without an error', async () => {
    const wrapper = await mountPage('/login')
    expect(wrapper.find('[data-test="login-error"]').exists()).toBe(false)
  })

  it('stops listening once it is gone', async () => {
    const remove = vi.spyOn(window, 'removeEventListener')
    const wrapper = await mountPage()
    wrapper.unmount()
    expect(remove).toHaveBeenCalledWith('pageshow', expect.any(Function))
  })
})
