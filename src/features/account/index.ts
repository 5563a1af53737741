/** Signing in and out, the session, and changing one's password. Other features and the app import this feature only from here. */
export { useSessionStore } from './stores/session';
export { safeRedirect } from './safe-redirect';
export const LoginView = () => import('./views/LoginView.vue');
export const ChangePasswordView = () => import('./views/ChangePasswordView.vue');
