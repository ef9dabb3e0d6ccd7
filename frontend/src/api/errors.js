// Turns an axios error into what the UI needs: the status and the server's sentence.

const FALLBACK = {
  0: 'The server could not be reached. Check your connection and try again.',
  401: 'Please sign in first.',
  403: 'You do not have access to this.',
  404: 'Not found.',
  409: 'That was already done.',
  429: 'You have used today’s quota. Premium lifts the limit.',
}

export function apiError(error) {
  const response = error?.response
  const status = response?.status ?? 0
  const data = response?.data
  const detail =
    (data && typeof data === 'object' && typeof data.detail === 'string' && data.detail) ||
    FALLBACK[status] ||
    (status >= 500
      ? 'The server had a problem. Please try again in a moment.'
      : 'Something went wrong. Please try again.')
  return { status, detail, code: data?.code ?? null, retryAfter: response?.headers?.['retry-after'] ?? null }
}
