import { setupServer } from 'msw/node';
import { handlers } from './handlers';

/** The in-memory site for component tests (Node's fetch, intercepted). */
export const server = setupServer(...handlers);
