// Sign-in, sign-out and API tokens for scripts (contract: "Accounts and tokens").
import { api, ensureCsrfToken } from '@/boot/axios'

export const LINKEDIN_LOGIN_URL = '/auth/login/linkedin-openidconnect/'

export { ensureCsrfToken }

export async function logout() {
  await api.post('/api/auth/logout/')
}

/** 201 {access, refresh, access_expires, refresh_expires}; needs the session. */
export async function createToken() {
  const { data } = await api.post('/api/auth/token/')
  return data
}

export async function revokeToken(refresh) {
  await api.post('/api/auth/token/revoke/', { refresh })
}
