import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { E2E_SMTP_PORT, E2E_WORK_DIR } from './paths';

/**
 * A local SMTP receiver for the end-to-end tests (AL-3): it accepts every
 * mail on loopback and appends it, as one JSON line, to the inbox file the
 * tests read. Started by Playwright as a second web server.
 */
export const SMTP_PORT = E2E_SMTP_PORT;
/** One inbox per worker slot, as each slot's site mails its own receiver. */
export const INBOX = path.join(E2E_WORK_DIR, 'mail', 'inbox.jsonl');

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly text: string;
  readonly at: string;
}

/** The mails received so far, oldest first. */
export function readInbox(file = INBOX): ReceivedMail[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ReceivedMail);
}

function start(): void {
  fs.mkdirSync(path.dirname(INBOX), { recursive: true });
  fs.writeFileSync(INBOX, '');
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, session, done) {
      const parts: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => parts.push(chunk));
      stream.on('end', () => {
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          text: Buffer.concat(parts).toString('utf8'),
          at: new Date().toISOString(),
        };
        fs.appendFileSync(INBOX, `${JSON.stringify(mail)}\n`);
        done();
      });
    },
  });
  server.listen(SMTP_PORT, '127.0.0.1', () => {
    process.stdout.write(`SMTP receiver on 127.0.0.1:${SMTP_PORT}, writing to ${INBOX}\n`);
  });
  const stop = (): void => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename))
  start();
