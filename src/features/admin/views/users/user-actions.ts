import type { AdminUser } from '@/core/contract';

/** What an administrator can do to one account (ID-1). */
export type UserAction = 'disable' | 'enable' | 'reset' | 'roles' | 'end';

export interface UserActionRequest {
  readonly action: UserAction;
  readonly user: AdminUser;
}

/** Message keys of each action: dialog title, its explanation, its confirm button. */
export const ACTION_TEXTS: Record<UserAction, { title: string; text: string; confirm: string }> = {
  disable: {
    title: 'admin.users.disableUser',
    text: 'admin.users.disableText',
    confirm: 'admin.users.disable',
  },
  enable: {
    title: 'admin.users.enableUser',
    text: 'admin.users.enableText',
    confirm: 'admin.users.enable',
  },
  reset: {
    title: 'admin.users.resetPasswordOf',
    text: 'admin.users.resetText',
    confirm: 'admin.users.resetPassword',
  },
  roles: {
    title: 'admin.users.editRolesOf',
    text: 'admin.users.rolesText',
    confirm: 'admin.users.saveRoles',
  },
  end: {
    title: 'admin.users.endSessionsOf',
    text: 'admin.users.endText',
    confirm: 'admin.users.endSessions',
  },
};
