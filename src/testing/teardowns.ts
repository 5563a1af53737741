/**
 * What test support must undo after each test, registered by the support
 * modules themselves when a test file imports them: a file that mounts no
 * console and starts no site does not load the console or the site at all.
 */
type Teardown = () => void | Promise<void>;

const registered: { readonly order: number; readonly teardown: Teardown }[] = [];

/** Runs `teardown` after each test; lower `order` first (consoles unmount before their site ends). */
export function afterEachTest(order: number, teardown: Teardown): void {
  registered.push({ order, teardown });
  registered.sort((a, b) => a.order - b.order);
}

export async function runTeardowns(): Promise<void> {
  for (const { teardown } of registered) await teardown();
}
