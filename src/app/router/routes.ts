import type { RouteRecordRaw } from 'vue-router';
import type { RouteAccess } from '@/core/contract';

declare module 'vue-router' {
  interface RouteMeta {
    /** Who may open the page; children inherit their parent's rule. */
    access?: RouteAccess;
    /** Message key of the page's name, used for the document title. */
    titleKey?: string;
  }
}

const ADMIN: RouteAccess = ['admin'];

/**
 * The console's pages (SPEC §6). Role rules: /backup for operators;
 * /restore for restorers and operators (owner recovery, seed 004 E8);
 * /admin/** for administrators; /account/password for anyone signed in.
 */
export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/features/account/views/LoginView.vue'),
    meta: { access: 'public', titleKey: 'login.submit' },
  },
  {
    // Resolved to the user's home by the guard, once the session is known.
    path: '/',
    name: 'home',
    component: () => import('@/app/views/NotFoundView.vue'),
    meta: { access: 'session' },
  },
  {
    path: '/backup',
    name: 'backup',
    component: () => import('@/features/backup/views/BackupView.vue'),
    meta: { access: ['operator'], titleKey: 'topBar.backup' },
  },
  {
    path: '/restore',
    name: 'restore',
    component: () => import('@/features/restore/views/RestoreView.vue'),
    meta: { access: ['restorer', 'operator'], titleKey: 'topBar.restore' },
  },
  {
    path: '/admin',
    component: () => import('@/features/admin/views/AdminLayout.vue'),
    meta: { access: ADMIN },
    children: [
      {
        path: '',
        name: 'admin-dashboard',
        component: () => import('@/features/admin/views/dashboard/DashboardView.vue'),
        meta: { titleKey: 'admin.dashboard.title' },
      },
      {
        path: 'restorers',
        name: 'admin-escrow-records',
        component: () => import('@/features/admin/views/restorers/EscrowRecordsView.vue'),
        meta: { titleKey: 'admin.escrowRecords.title' },
      },
      {
        path: 'alerts',
        name: 'admin-alerts',
        component: () => import('@/features/admin/views/alerts/AlertsView.vue'),
        meta: { titleKey: 'admin.alerts.title' },
      },
      {
        path: 'users',
        name: 'admin-users',
        component: () => import('@/features/admin/views/users/UsersView.vue'),
        meta: { titleKey: 'admin.users.title' },
      },
      {
        path: 'audit',
        name: 'admin-audit-log',
        component: () => import('@/features/admin/views/audit/AuditLogView.vue'),
        meta: { titleKey: 'admin.auditLog.title' },
      },
      {
        // BK-5, ES-2: requests that wait for a second administrator.
        path: 'approvals',
        name: 'admin-approvals',
        component: () => import('@/features/admin/views/approvals/ApprovalsView.vue'),
        meta: { access: ['admin'], titleKey: 'admin.approvals.title' },
      },
      {
        path: 'remote-copy',
        name: 'admin-remote-copy',
        component: () => import('@/features/remote-copy/views/RemoteCopyView.vue'),
        meta: { titleKey: 'admin.remoteCopy.title' },
      },
      {
        path: 'site',
        name: 'admin-site',
        component: () => import('@/features/admin/views/site/SiteView.vue'),
        meta: { titleKey: 'admin.site.title' },
      },
    ],
  },
  {
    path: '/account/password',
    name: 'change-password',
    component: () => import('@/features/account/views/ChangePasswordView.vue'),
    meta: { access: 'session', titleKey: 'account.title' },
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('@/app/views/NotFoundView.vue'),
    meta: { access: 'public', titleKey: 'notFound.title' },
  },
];
