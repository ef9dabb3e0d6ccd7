// Quasar CLI (app-vite 3) configuration: SPA in history mode, built into dist/spa.
// Django serves dist/spa at "/" with a history fallback; the prefixes below belong to it.
import { defineConfig } from '#q-app'

// axios falls back to the origin 'http://localhost' when there is no `window` (never the case
// in a browser). Renaming that dead fallback lets `npm run check:bundle` forbid dev hosts outright.
const axiosWithoutDevHost = {
  name: 'axios-without-dev-host',
  enforce: 'pre',
  transform(code, id) {
    if (!id.includes('/node_modules/axios/') || !code.includes("'http://localhost'")) return null
    return { code: code.replaceAll("'http://localhost'", "'http://origin.invalid'"), map: null }
  },
}

const BACKEND_PREFIXES = ['/api', '/auth', '/admin', '/static', '/_dev', '/js.stripe.com', '/v1']

export default defineConfig(() => {
  const backend = `http://127.0.0.1:${process.env.BACKEND_PORT || '8000'}`

  return {
    boot: ['axios'],
    css: ['app.scss'],
    extras: ['material-icons'],

    build: {
      target: { browser: ['es2022', 'firefox115', 'chrome115', 'safari14'] },
      vueRouterMode: 'history',
      publicPath: '/',
      // The bundle must not carry source maps with comments that mention dev hosts.
      sourcemap: false,
      vitePlugins: [axiosWithoutDevHost],
    },

    devServer: {
      // `quasar dev` hot-reloads the SPA; everything else goes to the Django server
      // that `make run` started (same origin for cookies, CSRF and the Stripe stand-in).
      host: '127.0.0.1',
      port: Number(process.env.FRONTEND_PORT || 9000),
      open: false,
      proxy: Object.fromEntries(
        BACKEND_PREFIXES.map((prefix) => [prefix, { target: backend, changeOrigin: false }]),
      ),
    },

    framework: {
      config: {},
      iconSet: 'material-icons',
      lang: 'en-US',
      plugins: ['Dialog', 'Notify', 'Loading'],
    },

    animations: [],
  }
})
