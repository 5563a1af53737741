/** Restoring an image: key release, download, decryption, verification, and the restore screen. Other features and the app import this feature only from here. */
export const RestoreView = () => import('./views/RestoreView.vue');
export { useBundleExport, type BundleExportState } from './views/use-bundle-export';
