import { defineRouter } from '#q-app'
import { createMemoryHistory, createRouter, createWebHashHistory, createWebHistory } from 'vue-router'
import { useAccountStore } from '@/stores/account'
import routes from './routes'
import { createTierGuard } from './guard'

export default defineRouter(function ({ store }) {
  const createHistory = process.env.SERVER
    ? createMemoryHistory
    : process.env.VUE_ROUTER_MODE === 'history'
      ? createWebHistory
      : createWebHashHistory

  const router = createRouter({
    scrollBehavior: () => ({ left: 0, top: 0 }),
    routes,
    history: createHistory(process.env.VUE_ROUTER_BASE),
  })

  router.beforeEach(createTierGuard(() => useAccountStore(store)))
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · Open SEC Data` : 'Open SEC Data'
  })

  return router
})
