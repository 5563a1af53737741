import type { PairAction } from '@/core/contract';

/** Message keys of each RC-3 action: its menu label, dialog texts and outcome. */
export const PAIR_ACTION_TEXTS: Record<
  PairAction,
  { label: string; selected: string; title: string; text: string; done: string; icon: string }
> = {
  suspend: {
    label: 'admin.remoteCopy.actions.suspend',
    selected: 'admin.remoteCopy.selected.suspend',
    title: 'admin.remoteCopy.dialog.suspend.title',
    text: 'admin.remoteCopy.dialog.suspend.text',
    done: 'admin.remoteCopy.dialog.suspend.done',
    icon: 'pi pi-pause',
  },
  resume: {
    label: 'admin.remoteCopy.actions.resume',
    selected: 'admin.remoteCopy.selected.resume',
    title: 'admin.remoteCopy.dialog.resume.title',
    text: 'admin.remoteCopy.dialog.resume.text',
    done: 'admin.remoteCopy.dialog.resume.done',
    icon: 'pi pi-play',
  },
  flush: {
    label: 'admin.remoteCopy.actions.flush',
    selected: 'admin.remoteCopy.selected.flush',
    title: 'admin.remoteCopy.dialog.flush.title',
    text: 'admin.remoteCopy.dialog.flush.text',
    done: 'admin.remoteCopy.dialog.flush.done',
    icon: 'pi pi-angle-double-right',
  },
  rekey: {
    label: 'admin.remoteCopy.actions.rekey',
    selected: 'admin.remoteCopy.selected.rekey',
    title: 'admin.remoteCopy.dialog.rekey.title',
    text: 'admin.remoteCopy.dialog.rekey.text',
    done: 'admin.remoteCopy.dialog.rekey.done',
    icon: 'pi pi-key',
  },
  takeover: {
    label: 'admin.remoteCopy.actions.takeover',
    selected: 'admin.remoteCopy.selected.takeover',
    title: 'admin.remoteCopy.dialog.takeover.title',
    text: 'admin.remoteCopy.dialog.takeover.text',
    done: 'admin.remoteCopy.dialog.takeover.done',
    icon: 'pi pi-sign-in',
  },
};
