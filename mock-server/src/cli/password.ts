import { ConfigError } from '../config';

/** Reads one line typed on a terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let typed = '';
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004')
          return finish(new ConfigError('Cancelled; nothing was changed.'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else if (ch >= ' ') typed += ch;
      }
    };
    input.on('data', onData);
  });
}

/** The first line of standard input, for scripts that pipe the password in. */
async function readPiped(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return (Buffer.concat(parts).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
}

/**
 * A password for a command line tool: CUSTODIAN_ADMIN_PASSWORD if set, else
 * typed on the terminal with no echo (twice when `confirm`), else the first
 * line of standard input when it is not a terminal.
 */
export async function readPassword(
  prompt: string,
  options: { confirm?: boolean } = {},
): Promise<string> {
  const fromEnv = process.env.CUSTODIAN_ADMIN_PASSWORD;
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) {
    const piped = await readPiped();
    if (!piped)
      throw new ConfigError(
        'No password: type it on a terminal, pipe it on standard input, or set CUSTODIAN_ADMIN_PASSWORD.',
      );
    return piped;
  }
  const password = await readHidden(prompt);
  if (options.confirm && (await readHidden('Type it again: ')) !== password) {
    throw new ConfigError('The two passwords differ; nothing was changed.');
  }
  return password;
}
