/** The administrator's screens: users, restorer DB, approvals, alerts, audit, dashboard, site, trusted sites. Other features and the app import this feature only from here. */
export const AdminLayout = () => import('./views/AdminLayout.vue');
export const DashboardView = () => import('./views/dashboard/DashboardView.vue');
export const EscrowRecordsView = () => import('./views/restorers/EscrowRecordsView.vue');
export const AlertsView = () => import('./views/alerts/AlertsView.vue');
export const UsersView = () => import('./views/users/UsersView.vue');
export const AuditLogView = () => import('./views/audit/AuditLogView.vue');
export const ApprovalsView = () => import('./views/approvals/ApprovalsView.vue');
export const SiteView = () => import('./views/site/SiteView.vue');
export const SitesView = () => import('./views/sites/SitesView.vue');
