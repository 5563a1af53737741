import type { Role } from './identity';
import { adminConsoleRoutes } from './routes-admin';

/**
 * Who may call a route, decided on the server from the session alone (ID-2).
 * `public`: anyone; `session`: any signed-in user; otherwise one of the roles.
 * The authorization matrix test walks this table: a route the site serves
 * without an entry here fails that test.
 */
export type RouteAccess = 'public' | 'session' | readonly Role[];

export interface RouteEntry {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  readonly path: string;
  readonly access: RouteAccess;
  /** State-changing calls need the CSRF header. */
  readonly csrf: boolean;
  /**
   * Open to a session whose user must still change their password; every
   * other route refuses it (password_change_required).
   */
  readonly beforePasswordChange?: true;
}

export const apiRoutes = {
  ...adminConsoleRoutes,
  health: { method: 'GET', path: '/api/health', access: 'public', csrf: false },
  site: { method: 'GET', path: '/api/site', access: 'public', csrf: false },
  /** The other sites a console signs in at (MS-2); any signed-in user. */
  siteDirectory: { method: 'GET', path: '/api/sites', access: 'session', csrf: false },
  login: { method: 'POST', path: '/api/auth/login', access: 'public', csrf: true },
  logout: {
    method: 'POST',
    path: '/api/auth/logout',
    access: 'session',
    csrf: true,
    beforePasswordChange: true,
  },
  session: {
    method: 'GET',
    path: '/api/auth/session',
    access: 'session',
    csrf: false,
    beforePasswordChange: true,
  },
  changePassword: {
    method: 'POST',
    path: '/api/auth/password',
    access: 'session',
    csrf: true,
    beforePasswordChange: true,
  },
  // Owners pick restorers by name; a restorer has no need to see the other accounts.
  listRestorers: {
    method: 'GET',
    path: '/api/users',
    access: ['operator', 'admin'],
    csrf: false,
  },
  events: { method: 'GET', path: '/api/events', access: 'session', csrf: false },
  reportIntegrity: { method: 'POST', path: '/api/alerts/integrity', access: 'session', csrf: true },
  adminListAlerts: { method: 'GET', path: '/api/admin/alerts', access: ['admin'], csrf: false },
  adminExportAlerts: {
    method: 'GET',
    path: '/api/admin/alerts/export',
    access: ['admin'],
    csrf: false,
  },
  adminAcknowledgeAlerts: {
    method: 'POST',
    path: '/api/admin/alerts/acknowledge',
    access: ['admin'],
    csrf: true,
  },
  adminListAudit: { method: 'GET', path: '/api/admin/audit', access: ['admin'], csrf: false },
  adminExportAudit: {
    method: 'GET',
    path: '/api/admin/audit/export',
    access: ['admin'],
    csrf: false,
  },
  adminVerifyAudit: {
    method: 'POST',
    path: '/api/admin/audit/verify',
    access: ['admin'],
    csrf: true,
  },

  // Devices and volumes (ID-6, BK-3, BK-8)
  registerDevice: { method: 'POST', path: '/api/devices', access: ['operator'], csrf: true },
  listDevices: { method: 'GET', path: '/api/devices', access: ['operator'], csrf: false },
  volumeOwner: {
    method: 'GET',
    path: '/api/volumes/:volumeId/owner',
    access: ['operator', 'admin'],
    csrf: false,
  },
  claimVolume: {
    method: 'POST',
    path: '/api/volumes/:volumeId/claim',
    access: ['operator'],
    csrf: true,
  },
  releaseClaim: {
    method: 'DELETE',
    path: '/api/volumes/:volumeId/claim',
    access: ['operator'],
    csrf: true,
  },
  myVolumes: { method: 'GET', path: '/api/volumes/mine', access: ['operator'], csrf: false },
  changeRestorers: {
    method: 'POST',
    path: '/api/volumes/:volumeId/restorers',
    access: ['operator', 'admin'],
    csrf: true,
  },
  setVolumeLabel: {
    method: 'POST',
    path: '/api/volumes/:volumeId/label',
    access: ['operator'],
    csrf: true,
  },
  // The owner moves the expiry of their record (later only when they set it)
  setVolumeExpiry: {
    method: 'POST',
    path: '/api/volumes/:volumeId/expiry',
    access: ['operator'],
    csrf: true,
  },
  // The owner's new browser continues the volume: the chunk-ID key to its device key
  moveVolume: {
    method: 'POST',
    path: '/api/volumes/:volumeId/move',
    access: ['operator'],
    csrf: true,
  },
  // Owners see the restores and refusals of their volumes (AL-3)
  volumeActivity: {
    method: 'GET',
    path: '/api/volumes/:volumeId/activity',
    access: ['operator'],
    csrf: false,
  },

  // Transfers of a pair (RC-2) and the chunk store
  putTransfer: {
    method: 'PUT',
    path: '/api/pairs/:pairId/transfers/:seq',
    access: ['operator'],
    csrf: true,
  },
  headChunk: {
    method: 'HEAD',
    path: '/api/volumes/:volumeId/chunks/:chunkId',
    access: ['operator'],
    csrf: false,
  },
  getChunk: {
    method: 'GET',
    path: '/api/volumes/:volumeId/chunks/:chunkId',
    access: ['operator', 'restorer', 'admin'],
    csrf: false,
  },
  scrubVolume: {
    method: 'POST',
    path: '/api/volumes/:volumeId/scrub',
    access: ['operator', 'admin'],
    csrf: true,
  },

  // Restore (RS-1..RS-3, RS-7)
  restorable: {
    method: 'GET',
    path: '/api/restorable',
    access: ['operator', 'restorer'],
    csrf: false,
  },
  generationManifest: {
    method: 'GET',
    path: '/api/volumes/:volumeId/generations/:generation/manifest',
    access: ['operator', 'restorer'],
    csrf: false,
  },
  requestKeyRelease: {
    method: 'POST',
    path: '/api/volumes/:volumeId/key-release',
    access: ['operator', 'restorer'],
    csrf: true,
  },
  getKeyRelease: {
    method: 'GET',
    path: '/api/volumes/:volumeId/key-release/:requestId',
    access: ['operator', 'restorer'],
    csrf: false,
  },

  // The restorer DB for administrators (ES-1..ES-3)
  adminListRecords: { method: 'GET', path: '/api/admin/records', access: ['admin'], csrf: false },
  adminExportRecords: {
    method: 'GET',
    path: '/api/admin/records/export',
    access: ['admin'],
    csrf: false,
  },
  adminSummary: { method: 'GET', path: '/api/admin/summary', access: ['admin'], csrf: false },
  adminRegisterManually: {
    method: 'POST',
    path: '/api/admin/records',
    access: ['admin'],
    csrf: true,
  },
  adminGetRecord: {
    method: 'GET',
    path: '/api/admin/records/:volumeId',
    access: ['admin'],
    csrf: false,
  },
  adminSetExpiry: {
    method: 'POST',
    path: '/api/admin/records/:volumeId/expiry',
    access: ['admin'],
    csrf: true,
  },
  adminRevoke: {
    method: 'POST',
    path: '/api/admin/records/:volumeId/revoke',
    access: ['admin'],
    csrf: true,
  },
  adminTransferOwnership: {
    method: 'POST',
    path: '/api/admin/records/:volumeId/owner',
    access: ['admin'],
    csrf: true,
  },
  adminRequestRearm: {
    method: 'POST',
    path: '/api/admin/records/:volumeId/rearm',
    access: ['admin'],
    csrf: true,
  },
  adminImportRegistration: {
    method: 'POST',
    path: '/api/admin/registrations',
    access: ['admin'],
    csrf: true,
  },
  adminListApprovals: {
    method: 'GET',
    path: '/api/admin/approvals',
    access: ['admin'],
    csrf: false,
  },
  adminDecideApproval: {
    method: 'POST',
    path: '/api/admin/approvals/:approvalId/decide',
    access: ['admin'],
    csrf: true,
  },

  // Remote copy of paired volumes (RC-1..RC-7)
  myPairs: { method: 'GET', path: '/api/pairs/mine', access: ['operator'], csrf: false },
  pairHeartbeat: {
    method: 'POST',
    path: '/api/pairs/:pairId/heartbeat',
    access: ['operator'],
    csrf: true,
  },
  acknowledgeInstruction: {
    method: 'POST',
    path: '/api/pairs/:pairId/instructions/:instructionId/ack',
    access: ['operator'],
    csrf: true,
  },
  adminListPairs: { method: 'GET', path: '/api/admin/pairs', access: ['admin'], csrf: false },
  adminGetPair: { method: 'GET', path: '/api/admin/pairs/:pairId', access: ['admin'], csrf: false },
  adminPairAction: {
    method: 'POST',
    path: '/api/admin/pairs/actions',
    access: ['admin'],
    csrf: true,
  },
  adminPairRotation: {
    method: 'POST',
    path: '/api/admin/pairs/:pairId/rotation',
    access: ['admin'],
    csrf: true,
  },
} as const satisfies Record<string, RouteEntry>;

export type ApiRouteName = keyof typeof apiRoutes;
