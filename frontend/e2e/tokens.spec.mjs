// API tokens: made on the account page, used from a script (here: the test) with a Bearer header.
import { expect, test } from '@playwright/test'
import { buyPremium, signIn, uniqueEmail } from './helpers.mjs'

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/

test('an API token from the account page works as Bearer (tier premium) and can be revoked', async ({
  page,
  playwright,
}, testInfo) => {
  const email = uniqueEmail(testInfo)
  await signIn(page, email)
  await buyPremium(page)
  await page.getByTestId('go-account').click()
  await expect(page.getByTestId('account-tier')).toHaveText('Premium')

  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-created')).toBeVisible()
  const access = await page.getByTestId('token-access').inputValue()
  const refresh = await page.getByTestId('token-refresh').inputValue()
  expect(access).toMatch(JWT)
  expect(refresh).toMatch(JWT)
  expect(refresh).not.toBe(access)

  // A script: no cookies, only the header.
  const script = await playwright.request.newContext({ baseURL: testInfo.project.use.baseURL })
  try {
    const bearer = { Authorization: `Bearer ${access}` }
    const me = await script.get('/api/account/', { headers: bearer })
    expect(me.status()).toBe(200)
    expect(await me.json()).toMatchObject({ email, tier: 'premium' })
    expect((await script.get('/api/account/')).status(), 'without the token').toBe(401)

    const filers = await script.get('/api/filers/', { headers: bearer })
    expect(filers.status()).toBe(200)
    const cik = (await filers.json()).results[0].cik
    const holdings = await script.get(`/api/filers/${cik}/holdings/`, { headers: bearer })
    expect(holdings.status(), 'premium data with the token').toBe(200)

    // Revoke in the page: the field holds the refresh token just made.
    await expect(page.getByTestId('token-revoke-input')).toHaveValue(refresh)
    await page.getByTestId('token-revoke').click()
    await expect(page.getByTestId('token-notice')).toHaveText('Token revoked. It will not work again.')
    await expect(page.getByTestId('token-created')).toHaveCount(0)

    const again = await script.post('/api/auth/token/refresh/', { data: { refresh } })
    expect(again.status(), 'a revoked refresh token is refused').toBe(401)
  } finally {
    await script.dispose()
  }
})
