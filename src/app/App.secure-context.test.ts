import { afterEach, describe, expect, it, vi } from 'vitest';
import { mountConsole, unmountAll } from '@/testing/mount-console';

describe('the console outside a secure context', () => {
  afterEach(() => {
    unmountAll();
    vi.unstubAllGlobals();
  });

  it('says at once, in English and Japanese, that backup and restore need HTTPS or localhost', async () => {
    vi.stubGlobal('isSecureContext', false);
    await mountConsole('/login');
    expect(document.querySelector('[role="alert"].insecure-context')?.textContent).toMatch(
      /plain HTTP.*backup and restore cannot work.*HTTPS.*localhost/,
    );
    unmountAll();
    await mountConsole('/login', { locale: 'ja' });
    expect(document.querySelector('.insecure-context')?.textContent).toMatch(
      /HTTP.*バックアップもリストアもできません.*HTTPS/,
    );
  });

  it('says nothing in a secure context', async () => {
    vi.stubGlobal('isSecureContext', true);
    await mountConsole('/login');
    expect(document.querySelector('.insecure-context')).toBeNull();
  });
});
