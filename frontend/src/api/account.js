// The signed-in user: GET /api/account/ (401 means guest).
import { api } from '@/boot/axios'

export async function fetchAccount() {
  const { data } = await api.get('/api/account/')
  return data
}
