import { setupServer } from 'msw/node';

/**
 * Node's fetch, intercepted for component tests. It answers nothing by
 * itself: a test's site (src/testing/site.ts) or the test adds its handlers.
 */
export const server = setupServer();
