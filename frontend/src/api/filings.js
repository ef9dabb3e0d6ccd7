// SEC 13F data: filers for every tier (quota), holdings and holders for Premium only.
import { api } from '@/boot/axios'

const enc = encodeURIComponent

function params(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== null && v !== ''))
}

/** {count, next, previous, results} */
export async function searchFilers({ q, page } = {}) {
  const { data } = await api.get('/api/filers/', { params: params({ q, page }) })
  return data
}

export async function fetchFiler(cik) {
  const { data } = await api.get(`/api/filers/${enc(cik)}/`)
  return data
}

export async function fetchHoldings(cik, { period, page } = {}) {
  const { data } = await api.get(`/api/filers/${enc(cik)}/holdings/`, {
    params: params({ period, page }),
  })
  return data
}

/** A plain link: the browser downloads it with the session cookie. */
export function holdingsCsvUrl(cik, { period } = {}) {
  const query = new URLSearchParams(params({ period, format: 'csv' }))
  return `/api/filers/${enc(cik)}/holdings/?${query}`
}

export async function fetchHolders(cusip, { page } = {}) {
  const { data } = await api.get(`/api/securities/${enc(cusip)}/holders/`, {
    params: params({ page }),
  })
  return data
}
