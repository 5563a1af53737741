/** What the escrow site says about itself. Other features and the app import this feature only from here. */
export { useSiteStore } from './stores/site';
