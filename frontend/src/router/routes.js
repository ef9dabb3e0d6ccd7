// Every page is lazy-loaded. meta.requires: 'user' (signed in) or 'premium'; see guard.js.
const routes = [
  {
    path: '/',
    component: () => import('@/layouts/MainLayout.vue'),
    children: [
      { path: '', name: 'home', component: () => import('@/pages/IndexPage.vue') },
      {
        path: 'login',
        name: 'login',
        component: () => import('@/pages/LoginPage.vue'),
        meta: { guestOnly: true, title: 'Sign in' },
      },
      {
        path: 'filers',
        name: 'filers',
        component: () => import('@/pages/FilersPage.vue'),
        meta: { title: 'Filers' },
      },
      {
        path: 'filers/:cik',
        name: 'filer',
        component: () => import('@/pages/FilerPage.vue'),
        meta: { title: 'Filer' },
      },
      {
        path: 'filers/:cik/holdings',
        name: 'holdings',
        component: () => import('@/pages/HoldingsPage.vue'),
        meta: { requires: 'premium', title: 'Holdings' },
      },
      {
        path: 'securities/:cusip',
        name: 'security',
        component: () => import('@/pages/SecurityPage.vue'),
        meta: { requires: 'premium', title: 'Holders' },
      },
      {
        path: 'premium',
        name: 'premium',
        component: () => import('@/pages/PremiumPage.vue'),
        meta: { requires: 'user', title: 'Premium' },
      },
      {
        path: 'account',
        name: 'account',
        component: () => import('@/pages/AccountPage.vue'),
        meta: { requires: 'user', title: 'Account' },
      },
      {
        // The link of the "action required" e-mail: ?invoice=in_...
        path: 'account/confirm-payment',
        name: 'confirm-payment',
        component: () => import('@/pages/ConfirmPaymentPage.vue'),
        meta: { requires: 'user', title: 'Confirm payment' },
      },
    ],
  },
  {
    path: '/:catchAll(.*)*',
    component: () => import('@/layouts/MainLayout.vue'),
    children: [{ path: '', name: 'not-found', component: () => import('@/pages/ErrorNotFound.vue') }],
  },
]

export default routes
