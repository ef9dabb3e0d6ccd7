// jsdom lacks screen.orientation, which Quasar ≥ 2.28 components read.
import { config } from '@vue/test-utils'
import { Quasar, Dialog, Notify } from 'quasar'

if (!globalThis.screen) globalThis.screen = {}
if (!globalThis.screen.orientation) {
  Object.defineProperty(globalThis.screen, 'orientation', {
    configurable: true,
    value: { type: 'portrait-primary', angle: 0, addEventListener() {}, removeEventListener() {} },
  })
}
if (!globalThis.matchMedia) {
  globalThis.matchMedia = (query) => ({
    matches: false,
    media: query,
    addEventListener() {},
    removeEventListener() {},
    addListener() {},
    removeListener() {},
  })
}

config.global.plugins.push([Quasar, { plugins: { Dialog, Notify } }])
