import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { server } from '@/testing/msw-server';
import { buttonNamed, mountConsole, settle } from '@/testing/mount-console';
import { testSite } from '@/testing/site';

const text = (): string => document.body.textContent ?? '';

describe('site page', () => {
  it('shows what the site says about itself', async () => {
    const { site } = await testSite();
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    const { info } = site;
    await vi.waitFor(() => expect(text()).toContain(info.name));
    expect(text()).toContain(info.version);
    expect(text()).toContain(info.siteId);
    expect(text()).toContain('Demo (demo accounts are enabled)');
    expect(text()).toContain(info.escrowKey.fingerprint);
    expect(text()).toContain(info.signingKey.fingerprint);
  });

  it('says when the site cannot be read and tries again on request', async () => {
    const { site } = await testSite();
    let calls = 0;
    // The site fails three reads in a row (the console retries twice), then answers.
    server.use(
      http.get('*/api/site', async () => {
        calls++;
        return calls <= 3
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : HttpResponse.json({ ...site.info, name: 'Recovered site' });
      }),
    );
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('The site information could not be loaded.'), {
      timeout: 5_000,
    });
    expect(text()).toContain('The site ran into a problem.');
    buttonNamed('Try again').click();
    await settle();
    await vi.waitFor(() => expect(text()).toContain('Recovered site'));
  });
});
