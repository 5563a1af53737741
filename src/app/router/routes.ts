import type { RouteRecordRaw } from 'vue-router';
import type { RouteAccess } from '@/core/contract';
import { ChangePasswordView, LoginView } from '@/features/account';
import {
  AdminLayout,
  AlertsView,
  ApprovalsView,
  AuditLogView,
  DashboardView,
  EscrowRecordsView,
  SitesView,
  SiteView,
  UsersView,
} from '@/features/admin';
import { BackupView } from '@/features/backup';
import { RemoteCopyView } from '@/features/remote-copy';
import { RestoreView } from '@/features/restore';

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
    component: LoginView,
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
    component: BackupView,
    meta: { access: ['operator'], titleKey: 'topBar.backup' },
  },
  {
    path: '/restore',
    name: 'restore',
    component: RestoreView,
    meta: { access: ['restorer', 'operator'], titleKey: 'topBar.restore' },
  },
  {
    path: '/admin',
    component: AdminLayout,
    meta: { access: ADMIN },
    children: [
      {
        path: '',
        name: 'admin-dashboard',
        component: DashboardView,
        meta: { titleKey: 'admin.dashboard.title' },
      },
      {
        path: 'restorers',
        name: 'admin-escrow-records',
        component: EscrowRecordsView,
        meta: { titleKey: 'admin.escrowRecords.title' },
      },
      {
        path: 'alerts',
        name: 'admin-alerts',
        component: AlertsView,
        meta: { titleKey: 'admin.alerts.title' },
      },
      {
        path: 'users',
        name: 'admin-users',
        component: UsersView,
        meta: { titleKey: 'admin.users.title' },
      },
      {
        path: 'audit',
        name: 'admin-audit-log',
        component: AuditLogView,
        meta: { titleKey: 'admin.auditLog.title' },
      },
      {
        // BK-5, ES-2: requests that wait for a second administrator.
        path: 'approvals',
        name: 'admin-approvals',
        component: ApprovalsView,
        meta: { access: ['admin'], titleKey: 'admin.approvals.title' },
      },
      {
        path: 'remote-copy',
        name: 'admin-remote-copy',
        component: RemoteCopyView,
        meta: { titleKey: 'admin.remoteCopy.title' },
      },
      {
        path: 'site',
        name: 'admin-site',
        component: SiteView,
        meta: { titleKey: 'admin.site.title' },
      },
      {
        // MS-1: the other sites this site trusts.
        path: 'sites',
        name: 'admin-sites',
        component: SitesView,
        meta: { titleKey: 'admin.sites.title' },
      },
    ],
  },
  {
    path: '/account/password',
    name: 'change-password',
    component: ChangePasswordView,
    meta: { access: 'session', titleKey: 'account.title' },
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('@/app/views/NotFoundView.vue'),
    meta: { access: 'public', titleKey: 'notFound.title' },
  },
];
