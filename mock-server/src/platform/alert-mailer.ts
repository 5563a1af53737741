import nodemailer, { type Transporter } from 'nodemailer';
import type { Alert } from '../../../src/core/contract';
import type { AlertNotifier } from '../domain/alerts';

export interface MailSettings {
  readonly smtpUrl: string;
  readonly from: string;
  readonly to: readonly string[];
  /** Alerts within one window go out as one summary mail (AL-3). */
  readonly burstWindowMs: number;
}

export interface SmtpDescription {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly username: string | null;
  readonly passwordSet: boolean;
  readonly from: string;
  readonly to: readonly string[];
  readonly burstWindowSeconds: number;
}

/** Strips what could break out of a header line (CR, LF and other controls). */
export function headerSafe(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, max);
}

/**
 * Mails alerts to administrators (AL-3). The first alert after a quiet
 * window goes out at once; those that follow within the window are gathered
 * into one summary mail at its end, so a burst is one mail, not hundreds.
 */
export class AlertMailer implements AlertNotifier {
  private readonly transport: Transporter;
  private pending: Alert[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSentAt = 0;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly settings: MailSettings,
    private readonly log: (message: string, error?: unknown) => void,
    private readonly siteName: string,
  ) {
    this.transport = nodemailer.createTransport(settings.smtpUrl);
  }

  notify(alert: Alert): void {
    this.pending.push(alert);
    if (this.timer) return;
    const wait = Math.max(0, this.lastSentAt + this.settings.burstWindowMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
    this.timer.unref();
  }

  /** Sends what is pending now (also used at shutdown). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.sending;
    this.lastSentAt = Date.now();
    this.sending = this.sending.then(() => this.send(batch));
    return this.sending;
  }

  /**
   * The settings in effect as administrators may see them (AL-3): the SMTP
   * URL's host, port and user name, never its password.
   */
  describe(): SmtpDescription {
    let url: URL | undefined;
    try {
      url = new URL(this.settings.smtpUrl);
    } catch {
      url = undefined;
    }
    const secure = url?.protocol === 'smtps:';
    return {
      host: url?.hostname || 'unreadable SMTP URL',
      // nodemailer's defaults when the URL names no port.
      port: Number(url?.port) || (secure ? 465 : 587),
      secure,
      username: url?.username ? decodeURIComponent(url.username) : null,
      passwordSet: Boolean(url?.password),
      from: this.settings.from,
      to: [...this.settings.to],
      burstWindowSeconds: Math.round(this.settings.burstWindowMs / 1000),
    };
  }

  async sendTest(to: readonly string[] = this.settings.to): Promise<void> {
    await this.transport.sendMail({
      from: this.settings.from,
      to: [...to],
      subject: headerSafe(`[${this.siteName}] Test mail`),
      text: `This is a test mail from the Custodian site "${this.siteName}". Alert mail works.\n`,
    });
  }

  async close(): Promise<void> {
    await this.flush();
    this.transport.close();
  }

  private async send(batch: readonly Alert[]): Promise<void> {
    const first = batch[0]!;
    const subject =
      batch.length === 1
        ? `[${this.siteName}] Alert: ${first.kind} - ${first.sentence}`
        : `[${this.siteName}] ${batch.length} alerts: ${[...new Set(batch.map((a) => a.kind))].join(', ')}`;
    const text = batch
      .map((a) =>
        [
          `${a.at}  ${a.kind}`,
          `  ${a.sentence}`,
          `  user: ${a.userId ?? '-'}  volume: ${a.volumeId ?? '-'}  address: ${a.clientAddress ?? '-'}`,
        ].join('\n'),
      )
      .join('\n\n');
    try {
      await this.transport.sendMail({
        from: this.settings.from,
        to: [...this.settings.to],
        subject: headerSafe(subject),
        text: `${text}\n\nSee the Alerts page of the console for details.\n`,
      });
    } catch (error) {
      this.log('alert mail could not be sent', error);
    }
  }
}
