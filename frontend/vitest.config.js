// Unit tests: vitest + @vue/test-utils under jsdom, with Quasar's Vite plugin as in the app.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import { quasar, transformAssetUrls } from '@quasar/vite-plugin'

export default defineConfig({
  plugins: [vue({ template: { transformAssetUrls } }), quasar({ sassVariables: false })],
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('./src', import.meta.url)),
      '#q-app': '@quasar/app-vite',
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['test/setup.js'],
    include: ['test/**/*.test.js'],
    css: false,
    restoreMocks: true,
  },
})
