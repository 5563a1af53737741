/** Backing up an image: the engine that reads, seals and sends it, the primary's side of its pairs, and the backup screen. Other features and the app import this feature only from here. */
export const BackupView = () => import('./views/BackupView.vue');
