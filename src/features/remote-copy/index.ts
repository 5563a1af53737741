/** The administrator's view of paired volumes (RC-1..RC-7). Other features and the app import this feature only from here. */
export const RemoteCopyView = () => import('./views/RemoteCopyView.vue');
