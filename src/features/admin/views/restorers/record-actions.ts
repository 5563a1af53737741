/** ES-2 changes to one escrow record, each asked for with a reason. */
export const recordActions = ['people', 'expiry', 'owner', 'rearm', 'revoke'] as const;
export type RecordAction = (typeof recordActions)[number];

/** Message keys of each change's dialog: its title, explanation, confirm button and outcome. */
export const RECORD_ACTION_TEXTS: Record<
  RecordAction,
  { title: string; text: string; confirm: string; done: string }
> = {
  people: {
    title: 'admin.escrowRecords.change.people.title',
    text: 'admin.escrowRecords.change.people.text',
    confirm: 'admin.escrowRecords.change.people.confirm',
    done: 'admin.escrowRecords.change.people.done',
  },
  expiry: {
    title: 'admin.escrowRecords.change.expiry.title',
    text: 'admin.escrowRecords.change.expiry.text',
    confirm: 'admin.escrowRecords.change.expiry.confirm',
    done: 'admin.escrowRecords.change.expiry.done',
  },
  owner: {
    title: 'admin.escrowRecords.change.owner.title',
    text: 'admin.escrowRecords.change.owner.text',
    confirm: 'admin.escrowRecords.change.owner.confirm',
    done: 'admin.escrowRecords.change.owner.done',
  },
  rearm: {
    title: 'admin.escrowRecords.change.rearm.title',
    text: 'admin.escrowRecords.change.rearm.text',
    confirm: 'admin.escrowRecords.change.rearm.confirm',
    done: 'admin.escrowRecords.change.rearm.done',
  },
  revoke: {
    title: 'admin.escrowRecords.change.revoke.title',
    text: 'admin.escrowRecords.change.revoke.text',
    confirm: 'admin.escrowRecords.change.revoke.confirm',
    done: 'admin.escrowRecords.change.revoke.done',
  },
};
