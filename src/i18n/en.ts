import type { ErrorCode } from '@/core/contract';

/**
 * English texts of the console. Names used by acceptance tests (SPEC §6) are
 * fixed: "User ID", "Password", "Sign in", "Sign out", "Backup", "Restore",
 * "Admin". Other texts must not contain those names when they label a
 * control on the same screen.
 *
 * vue-i18n syntax: `{name}` is a placeholder, `|` separates plural forms and
 * `@` starts a linked message, so plain texts avoid the last two.
 */
export const en = {
  app: {
    name: 'Custodian',
    skipToContent: 'Skip to content',
    pageTitle: '{page} · Custodian',
    loading: 'Loading…',
  },
  language: {
    label: 'Language',
  },
  topBar: {
    mainNav: 'Main',
    backup: 'Backup',
    restore: 'Restore',
    admin: 'Admin',
    changePassword: 'Change password',
    signedInAs: 'Signed in as {userId}',
    signOut: 'Sign out',
    signOutFailed: 'You are still signed in',
  },
  adminNav: {
    label: 'Administration',
    dashboard: 'Dashboard',
    escrowRecords: 'Escrow records',
    alerts: 'Alerts',
    users: 'Users',
    auditLog: 'Audit log',
    remoteCopy: 'Remote copy',
    site: 'Site',
  },
  login: {
    title: 'Sign in to Custodian',
    intro: 'Use the user ID and password your administrator gave you.',
    userId: 'User ID',
    password: 'Password',
    submit: 'Sign in',
    missingFields: 'Enter both your user ID and your password, then sign in.',
  },
  account: {
    title: 'Change password',
    intro: 'Choose a new password of at least {min} characters that you do not use anywhere else.',
    mustChange: 'Your administrator asks you to choose a new password before you continue.',
    sessionEnds: 'This session ends at {time}.',
    currentPassword: 'Current password',
    newPassword: 'New password',
    confirmPassword: 'Confirm password',
    submit: 'Save new password',
    tooShort: 'The new password is too short: use at least {min} characters.',
    mismatch: 'The two new passwords differ. Type the same password in both fields.',
    missingCurrent: 'Enter your current password.',
    changed: 'Your password has been changed. Use the new one the next time you sign in.',
    continue: 'Continue to your home page',
  },
  backup: {
    title: 'Back up a media image',
    emptyTitle: 'No volumes yet',
    emptyText: 'Volumes you back up will be listed here with their generations and receipts.',
  },
  restore: {
    title: 'Restore a media image',
    emptyTitle: 'No restorable volumes yet',
    emptyText: 'Volumes you are registered for, and volumes you own, will be listed here.',
  },
  admin: {
    dashboard: {
      title: 'Dashboard',
      emptyTitle: 'Nothing to show yet',
      emptyText: 'A summary of alerts, escrow records and copies will appear here.',
    },
    escrowRecords: {
      title: 'Escrow records',
      emptyTitle: 'No escrow records yet',
      emptyText: 'An escrow record is created when an operator backs up a volume.',
    },
    alerts: {
      title: 'Alerts',
      emptyTitle: 'No alerts',
      emptyText: 'Security events such as refused sign-ins and refused key requests appear here.',
    },
    users: {
      title: 'Users',
      emptyTitle: 'The user list appears here.',
      emptyText: 'Accounts, their roles and their sessions will be managed on this page.',
    },
    auditLog: {
      title: 'Audit log',
      emptyTitle: 'No audit entries yet.',
      emptyText: 'Every security-relevant action of the site will be listed here.',
    },
    remoteCopy: {
      title: 'Remote copy',
      emptyTitle: 'No remote copy pairs yet.',
      emptyText: 'A pair appears when a volume is backed up to this site.',
    },
    site: {
      title: 'Site',
      intro: 'The escrow site this console is connected to.',
      name: 'Site name',
      version: 'Version',
      siteId: 'Site ID',
      escrowKey: 'Escrow key fingerprint',
      signingKey: 'Receipt-signing key fingerprint',
      mode: 'Mode',
      demoMode: 'Demo (demo accounts are enabled)',
      productionMode: 'Production',
      loadFailed: 'The site information could not be loaded.',
      retry: 'Try again',
    },
  },
  notAllowed: {
    title: 'Not allowed',
    text: 'Your account ({userId}) does not have the role needed to open this page.',
    hint: 'Ask an administrator for the role if you need it.',
    home: 'Go to your home page',
  },
  notFound: {
    title: 'Page not found',
    text: 'There is no page at {path}.',
    home: 'Go to your home page',
  },
  errors: {
    unauthorized_user:
      'unauthorized user: the user ID or password is not correct. Check both and try again.',
    locked_out:
      'Too many failed sign-ins for this user from this address. Wait a while, then try again.',
    not_signed_in: 'You are not signed in. Sign in and try again.',
    session_expired: 'Your session has ended. Sign in again to continue.',
    forbidden: 'Your account is not allowed to do this. Ask an administrator if you need to.',
    csrf_required:
      'The site refused a request without its safety header. Reload the page and try again.',
    invalid_request: 'The site could not accept what was sent. Check the fields and try again.',
    malformed_json: 'The site could not read the request. Reload the page and try again.',
    body_too_large: 'What was sent is too large for the site. Send less at once and try again.',
    unsupported_media_type:
      'The site does not accept this kind of content. Reload the page and try again.',
    not_found: 'The site does not know this item. It may have been removed; reload the page.',
    weak_password:
      'The new password is too weak. Use at least {min} characters, different from the old password and not containing your user ID.',
    wrong_password: 'The current password is not correct. Type it again.',
    password_change_required:
      'You must choose a new password before you continue. Change it on the Change password page.',
    network_error: 'The site could not be reached. Check the network connection and try again.',
    timeout: 'The site took too long to answer. Try again in a moment.',
    server_error:
      'The site ran into a problem. Try again; if it keeps happening, tell an administrator.',
    unexpected: 'Something went wrong in the console. Reload the page and try again.',
    retryAfter: 'You can try again in about {n} minute. | You can try again in about {n} minutes.',
  } satisfies Record<ErrorCode, string> & Record<string, string>,
};

/** Every catalog has exactly this shape: one string per key of `en`. */
export type Messages = typeof en;
