import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import { describe, expect, it } from 'vitest';
import { defineComponent, h, ref } from 'vue';
import { createConsoleI18n } from '@/app/i18n';
import { primeVueOptions } from '@/app/primevue-options';
import { ApiError } from '@/shared/api/request';
import { buttonNamed } from '@/testing/mount-console';
import ActionDialog from './ActionDialog.vue';

/** A change the test finishes by hand: `settle` answers it, `refuse` fails it. */
function pendingChange() {
  const reasons: string[] = [];
  let settle: (value: string | undefined) => void = () => undefined;
  let refuse: (error: unknown) => void = () => undefined;
  const run = (reason: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      reasons.push(reason);
      settle = resolve;
      refuse = reject;
    });
  return { reasons, run, settle: (v?: string) => settle(v), refuse: (e: unknown) => refuse(e) };
}

function mountDialog(run: (reason: string) => Promise<string | undefined>, invalid?: string) {
  const visible = ref(true);
  const done: string[] = [];
  const Host = defineComponent({
    setup: () => () =>
      h(
        ActionDialog<string>,
        {
          visible: visible.value,
          'onUpdate:visible': (open: boolean) => (visible.value = open),
          header: 'Disable ghost',
          text: 'Ghost can no longer sign in.',
          confirmLabel: 'Disable',
          run,
          invalid,
          explain: { fieldDetail: true },
          onDone: (result: string) => done.push(result),
        },
        () => h('p', 'extra fields'),
      ),
  });
  mount(Host, {
    attachTo: document.body,
    global: { plugins: [createConsoleI18n('en'), [PrimeVue, primeVueOptions()]] },
  });
  return { visible, done };
}

function reasonField(): HTMLTextAreaElement {
  const label = [...document.querySelectorAll('label')].find((l) => l.textContent === 'Reason');
  return document.getElementById(label?.htmlFor ?? '') as HTMLTextAreaElement;
}

const dialogText = (): string => document.querySelector('[role="dialog"]')?.textContent ?? '';

async function confirmWith(reason: string): Promise<void> {
  const field = reasonField();
  field.value = reason;
  field.dispatchEvent(new Event('input', { bubbles: true }));
  await flushPromises();
  buttonNamed('Disable').click();
  await flushPromises();
}

describe('ActionDialog: an administrative change with its reason', () => {
  it('sends nothing without a reason and says why', async () => {
    const change = pendingChange();
    mountDialog(change.run);
    await flushPromises();
    expect(dialogText()).toContain('extra fields');
    await confirmWith('   ');
    expect(change.reasons).toEqual([]);
    expect(dialogText()).toContain('Give a reason: it is kept in the audit log.');
  });

  it('sends nothing while the caller’s fields are not ready, and shows what is missing', async () => {
    const change = pendingChange();
    mountDialog(change.run, 'Choose a role.');
    await flushPromises();
    expect(dialogText()).toContain('Choose a role.');
    await confirmWith('new job');
    expect(change.reasons).toEqual([]);
  });

  it('is busy while the change runs, then closes and hands over the result', async () => {
    const change = pendingChange();
    const { visible, done } = mountDialog(change.run);
    await flushPromises();
    await confirmWith('  left the company  ');
    expect(change.reasons).toEqual(['left the company']);
    expect(buttonNamed('Disable').disabled).toBe(true);
    buttonNamed('Disable').click();
    await flushPromises();
    expect(change.reasons).toHaveLength(1);

    change.settle('ghost is disabled');
    await flushPromises();
    expect(done).toEqual(['ghost is disabled']);
    expect(visible.value).toBe(false);
  });

  it('shows the site’s refusal in the dialog, stays open, and tries again', async () => {
    const change = pendingChange();
    const { visible, done } = mountDialog(change.run);
    await flushPromises();
    await confirmWith('left');
    change.refuse(new ApiError('invalid_request', 'reason: too short', 400));
    await flushPromises();
    expect(dialogText()).toContain(
      'The site could not accept what was sent. Check the fields and try again. (reason: too short)',
    );
    expect(visible.value).toBe(true);
    expect(buttonNamed('Disable').disabled).toBe(false);
    expect(done).toEqual([]);

    buttonNamed('Disable').click();
    await flushPromises();
    expect(dialogText()).not.toContain('could not accept');
    change.settle('done');
    await flushPromises();
    expect(done).toEqual(['done']);
  });

  it('stays open without a result when the change did nothing', async () => {
    const change = pendingChange();
    const { visible, done } = mountDialog(change.run);
    await flushPromises();
    await confirmWith('left');
    change.settle(undefined);
    await flushPromises();
    expect(visible.value).toBe(true);
    expect(done).toEqual([]);
  });

  it('forgets the reason and the last refusal when opened again', async () => {
    const change = pendingChange();
    const { visible } = mountDialog(change.run);
    await flushPromises();
    await confirmWith('left');
    change.refuse(new Error('boom'));
    await flushPromises();
    expect(dialogText()).toContain('Something went wrong');
    visible.value = false;
    await flushPromises();
    visible.value = true;
    await flushPromises();
    expect(dialogText()).not.toContain('Something went wrong');
    expect(reasonField().value).toBe('');
  });
});
