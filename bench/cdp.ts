/**
 * A minimal Chrome DevTools Protocol client over --remote-debugging-pipe,
 * for the measured runs. Playwright turns the Network domain on for every
 * page and worker, and Chromium then copies every request body into a
 * base64 "requestWillBeSent" event for the driver: about 100 CPU seconds per
 * GiB uploaded, split between the renderer, the browser process and Node,
 * which no user's browser pays. This client only ever uses Target, Runtime,
 * DOM.setFileInputFiles, Input and Browser.setDownloadBehavior, so Chromium
 * runs the console as it would for a person.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly method: string;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { message: string; data?: string };
  sessionId?: string;
}

/** Flags Playwright gives headless Chromium that matter for timing, plus the project's own. */
export const HEADLESS_ARGS = [
  '--headless',
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
  '--disable-ipc-flooding-protection',
  '--disable-hang-monitor',
  '--disable-breakpad',
  '--disable-dev-shm-usage',
  '--disable-extensions',
  '--disable-default-apps',
  '--no-default-browser-check',
  '--password-store=basic',
  '--use-mock-keychain',
  '--mute-audio',
  '--hide-scrollbars',
];

export class CdpConnection extends EventEmitter {
  readonly #child: ChildProcess;
  readonly #out: Writable;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #buffer = '';
  #closed = false;
  stderr = '';

  private constructor(child: ChildProcess) {
    super();
    this.#child = child;
    this.#out = child.stdio[3] as Writable;
    const input = child.stdio[4] as Readable;
    input.setEncoding('utf8');
    input.on('data', (data: string) => this.#receive(data));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    child.once('exit', () => {
      this.#closed = true;
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`Chromium exited during ${pending.method}:\n${this.stderr}`));
      }
      this.#pending.clear();
    });
  }

  /** Starts Chromium on `profileDir` with the DevTools protocol on fds 3 and 4. */
  static launch(executable: string, profileDir: string, args: readonly string[]): CdpConnection {
    const child = spawn(
      executable,
      [
        ...args,
        ...HEADLESS_ARGS,
        '--remote-debugging-pipe',
        `--user-data-dir=${profileDir}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    return new CdpConnection(child);
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  #receive(data: string): void {
    this.#buffer += data;
    for (;;) {
      const end = this.#buffer.indexOf('\0');
      if (end < 0) return;
      const text = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 1);
      const message = JSON.parse(text) as Message;
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (!pending) continue;
        if (message.error) {
          pending.reject(
            new Error(`${pending.method}: ${message.error.message} ${message.error.data ?? ''}`),
          );
        } else {
          pending.resolve(message.result);
        }
      } else if (message.method) {
        this.emit(message.method, message.params ?? {}, message.sessionId);
      }
    }
  }

  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`Chromium is closed (${method})`));
    const id = this.#nextId++;
    const message = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.#out.write(`${message}\0`);
    });
  }

  /** Closes the browser and waits for its process to end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    await this.send('Browser.close').catch(() => undefined);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Functions sent to the page are the source tsx compiled, which wraps named
 * inner functions in esbuild's __name(): give the page a harmless one.
 */
const NAME_SHIM = 'var __name = (fn) => fn; ';

interface EvaluateResult {
  result: { type: string; value?: unknown; objectId?: string; description?: string };
  exceptionDetails?: { text: string; exception?: { description?: string } };
}

/** One page (tab) of a CdpConnection, with just what the benchmark needs. */
export class CdpPage {
  private constructor(
    readonly cdp: CdpConnection,
    readonly sessionId: string,
    readonly targetId: string,
  ) {}

  static async open(cdp: CdpConnection, url = 'about:blank'): Promise<CdpPage> {
    const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url });
    const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', {
      targetId,
      flatten: true,
    });
    return new CdpPage(cdp, sessionId, targetId);
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}) {
    return this.cdp.send<T>(method, params, this.sessionId);
  }

  /** Evaluates `expression` (awaiting a promise) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const answer = await this.send<EvaluateResult>('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
      userGesture: true,
    });
    if (answer.exceptionDetails) {
      const detail = answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text;
      throw new Error(`in the page: ${detail}`);
    }
    return answer.result.value as T;
  }

  /** Calls `fn(arg)` in the page; `fn` must not close over anything. */
  call<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    return this.evaluate<T>(`${NAME_SHIM}(${fn.toString()})(${JSON.stringify(arg ?? null)})`);
  }

  /** Loads `url` and waits until the document has loaded. */
  async goto(url: string): Promise<void> {
    // Mark the current document, so the wait below cannot be answered by it.
    await this.evaluate('window.__benchLeaving = true').catch(() => undefined);
    const answer = await this.send<{ errorText?: string }>('Page.navigate', { url });
    if (answer.errorText) throw new Error(`${url}: ${answer.errorText}`);
    await this.waitFor(
      () =>
        !(window as unknown as { __benchLeaving?: boolean }).__benchLeaving &&
        document.readyState === 'complete',
    );
  }

  /**
   * Waits until `predicate(arg)` returns something truthy in the page and
   * returns that value. It is checked when the document changes (a
   * MutationObserver, so the wait adds no rendering work of its own to what
   * is measured) and every 100 ms.
   */
  async waitFor<T, A = undefined>(
    predicate: (arg: A) => T,
    arg?: A,
    timeoutMs = 60_000,
    /** Whether to check again in the next document when the page navigates. */
    acrossNavigations = true,
  ): Promise<T> {
    const expression = `${NAME_SHIM}new Promise((resolve, reject) => {
      const predicate = ${predicate.toString()};
      const arg = ${JSON.stringify(arg ?? null)};
      let done = false;
      const finish = (ok, value) => {
        if (done) return;
        done = true;
        observer.disconnect();
        clearInterval(timer);
        clearTimeout(deadline);
        ok ? resolve(value) : reject(value);
      };
      const check = () => {
        if (done) return;
        try {
          const value = predicate(arg);
          if (value) finish(true, value);
        } catch (error) {
          finish(false, error);
        }
      };
      const observer = new MutationObserver(check);
      observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
      const timer = setInterval(check, 100);
      const deadline = setTimeout(
        () => finish(false, new Error('timed out after ${timeoutMs} ms waiting for ' + ${JSON.stringify(predicate.toString().slice(0, 200))})),
        ${timeoutMs},
      );
      check();
    })`;
    for (;;) {
      try {
        return await this.evaluate<T>(expression);
      } catch (error) {
        // A navigation destroys the context the promise ran in: check again in the new one.
        const navigated = /context was destroyed|Cannot find context|Inspected target navigated/i;
        if (acrossNavigations && navigated.test(String(error))) continue;
        throw error;
      }
    }
  }

  /** Chooses `files` in the file input matched by `selector` (as a person picking a file). */
  async setInputFiles(selector: string, files: string[]): Promise<void> {
    const answer = await this.send<EvaluateResult>('Runtime.evaluate', {
      expression: `document.querySelector(${JSON.stringify(selector)})`,
    });
    const objectId = answer.result.objectId;
    if (!objectId) throw new Error(`no element matches ${selector}`);
    await this.send('DOM.setFileInputFiles', { files, objectId });
  }

  /** Types `text` into the focused element and presses Enter. */
  async typeAndEnter(text: string): Promise<void> {
    await this.send('Input.insertText', { text });
    const key = {
      key: 'Enter',
      code: 'Enter',
      windowsVirtualKeyCode: 13,
      nativeVirtualKeyCode: 13,
    };
    await this.send('Input.dispatchKeyEvent', { type: 'keyDown', text: '\r', ...key });
    await this.send('Input.dispatchKeyEvent', { type: 'keyUp', ...key });
  }

  async close(): Promise<void> {
    await this.cdp.send('Target.closeTarget', { targetId: this.targetId }).catch(() => undefined);
  }
}
