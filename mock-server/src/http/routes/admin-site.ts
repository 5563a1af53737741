import { apiRoutes, type MailSettings } from '../../../../src/core/contract';
import { DomainError } from '../../domain/errors';
import { type RouteContext, type Router, principalOf } from '../router';

/** The site page of the administrators' console: alert mail in effect and a test mail (AL-3). */
export function adminSiteRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.adminMailSettings, async (): Promise<MailSettings> => {
    if (!ctx.mailer) return { configured: false };
    const settings = ctx.mailer.describe();
    return { configured: true, ...settings, to: [...settings.to] };
  });

  router.route(apiRoutes.adminSendTestMail, async (request) => {
    const { mailer } = ctx;
    if (!mailer) {
      throw new DomainError(
        'mail_not_configured',
        'Alert mail is not configured on this site: set CUSTODIAN_SMTP_URL and CUSTODIAN_ALERT_MAIL_TO, then restart it.',
        409,
      );
    }
    const { to } = mailer.describe();
    await ctx.audit.append({
      event: 'test_mail_sent',
      actor: principalOf(request).user.userId,
      clientAddress: request.ip,
      details: { to: [...to] },
    });
    try {
      await mailer.sendTest();
    } catch (cause) {
      throw new DomainError(
        'mail_failed',
        `The test mail could not be sent: ${cause instanceof Error ? cause.message : String(cause)}. Check the SMTP settings and that the mail server is reachable.`,
        502,
      );
    }
    return { sent: true, to: [...to] };
  });
}
