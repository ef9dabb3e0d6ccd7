import { defineRouter } from '#q-app'
import { createMemoryHistory, createRouter, createWebHashHistory, createWebHistory } from 'vue-router'
import { useAccountStore } from '@/stores/account'
import routes from './routes'
import { createTierGuard } from './guard'

export default defineRouter(function ({ store }) {
  // Quasar CLI (app-vite 3) defines these from quasar.config.js > build.vueRouterMode / publicPath.
  const env = import.meta.env
  const createHistory = env.QUASAR_SERVER
    ? createMemoryHistory
    : env.QUASAR_VUE_ROUTER_MODE === 'hash'
      ? createWebHashHistory
      : createWebHistory

  const router = createRouter({
    // A new page starts at the top; a link to a section (/account#card) lands on it, below the header.
    scrollBehavior: (to) => (to.hash ? { el: to.hash, top: 72 } : { left: 0, top: 0 }),
    routes,
    history: createHistory(env.QUASAR_VUE_ROUTER_BASE),
  })

  router.beforeEach(createTierGuard(() => useAccountStore(store)))
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · Open SEC Data` : 'Open SEC Data'
  })

  return router
})
