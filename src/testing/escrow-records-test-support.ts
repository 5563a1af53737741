import { flushPromises } from '@vue/test-utils';
import { makeBackup } from '@/core/crypto/test-support/backup-fixture';
import { createRegistrationFile, type RegistrationFile } from '@/core/crypto/registration';
import type { SitePublicKey } from '@/core/contract';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { type } from '@/testing/mount-console';

/** The open dialog (PrimeVue renders one at a time here). */
export function dialog(): HTMLElement {
  const found = document.querySelector<HTMLElement>('[role="dialog"]');
  if (!found) throw new Error('no dialog open');
  return found;
}

/** A button of the open dialog, by its visible text. */
export function dialogButton(name: string): HTMLButtonElement {
  const button = [...dialog().querySelectorAll('button')].find(
    (b) => b.textContent?.trim() === name,
  );
  if (!button) throw new Error(`no button "${name}" in the dialog`);
  return button;
}

/** The reason is a textarea, which `controlLabelled` does not look for. */
export async function giveReason(reason: string): Promise<void> {
  const label = [...dialog().querySelectorAll('label')].find((l) => l.textContent === 'Reason');
  const area = document.getElementById(label?.htmlFor ?? '');
  if (!(area instanceof HTMLTextAreaElement)) throw new Error('no reason field');
  await type(area as unknown as HTMLInputElement, reason);
}

/** Picks a file in the file input with this label, as a person does. */
export async function chooseFile(label: string, file: File): Promise<void> {
  const labelElement = [...document.querySelectorAll('label')].find(
    (l) => l.textContent?.trim() === label,
  );
  const input = document.getElementById(labelElement?.htmlFor ?? '');
  if (!(input instanceof HTMLInputElement)) throw new Error(`no file input "${label}"`);
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change'));
  for (let i = 0; i < 5; i++) {
    await flushPromises();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** A real offline registration file (BK-9) for a site, sealed to its escrow key. */
export async function registrationFile(
  siteId: string,
  volumeId: string,
  escrowKey: SitePublicKey,
): Promise<{ file: RegistrationFile }> {
  // jose checks `instanceof Uint8Array` against jsdom's realm.
  useSameRealmTextEncoder();
  const backup = await makeBackup(new Uint8Array(2048).fill(7), { volumeId, chunkSize: 1024 });
  const file = await createRegistrationFile({
    siteId,
    owner: 'operator',
    restorers: ['restorer'],
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    manifest: backup.manifest,
    keys: backup.keys,
    siteEscrowPublicKey: escrowKey.jwk,
    deviceKeyPair: backup.deviceKeyPair,
  });
  return { file };
}

/** The control with this label inside the open dialog. */
export function dialogControl(label: string): HTMLInputElement {
  const found = [...dialog().querySelectorAll('label')].find(
    (l) => l.textContent?.trim() === label,
  );
  const control = document.getElementById(found?.htmlFor ?? '');
  if (!(control instanceof HTMLInputElement))
    throw new Error(`no control "${label}" in the dialog`);
  return control;
}

/**
 * Accessible names of the page's controls (ARIA label, else the associated
 * label, else the text), to check SPEC §6's reserved names.
 */
export function controlNames(): string[] {
  return [...document.querySelectorAll('button, a, input, select, textarea')].map((control) => {
    const aria = control.getAttribute('aria-label');
    if (aria) return aria;
    if (control.matches('input, select, textarea')) {
      const label = control.id ? document.querySelector(`label[for="${control.id}"]`) : null;
      return label?.textContent?.trim() ?? '';
    }
    return control.textContent?.trim() ?? '';
  });
}
