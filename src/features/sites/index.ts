/** What the escrow site says about itself, and the other sites this console signs in at. Other features and the app import this feature only from here. */
export { useSiteStore } from './stores/site';
export { useOtherSitesStore, type OtherSite, type SignInState } from './stores/sign-ins';
