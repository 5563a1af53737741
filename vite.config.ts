import { fileURLToPath, URL } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// The console is served by the escrow site itself (one origin, one CSP), so
// the dev server only proxies the API to a site running beside it.
const sitePort = process.env.CUSTODIAN_PORT ?? '8787';
const siteOrigin = `http://127.0.0.1:${sitePort}`;

export default defineConfig({
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  // The site replaces this placeholder with a fresh nonce on every page load,
  // so the strict CSP can allow exactly the console's own scripts and styles.
  html: { cspNonce: '__CSP_NONCE__' },
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
  },
  worker: { format: 'es' },
  server: {
    proxy: {
      '/api': {
        target: siteOrigin,
        changeOrigin: false,
        // The site answers only its own origin and trusted sites' (MS-1): the dev
        // server's own pages speak for the site's console, other pages keep their origin.
        configure: (proxy) =>
          proxy.on('proxyReq', (proxyReq, request) => {
            const { origin, host } = request.headers;
            if (origin && host && URL.canParse(origin) && new URL(origin).host === host) {
              proxyReq.setHeader('origin', siteOrigin);
            }
          }),
      },
    },
  },
});
