// Email over SMTP (nodemailer, loaded on first use like web-push): the notice's title as the subject, a plain-text
// body and a small HTML one with the link. A refusal (5xx, a wrong password) is final; a connection that failed or a
// 4xx ("try later") is worth another try.
import type { EmailDestination } from '../config.js';
import { networkError, type Attempt } from './post-json.js';
import type { PushMessage } from './web-push.js';

const nodemailer = async () => (await import('nodemailer')).default;

const DEFAULT_PORTS = { tls: 465, starttls: 587, none: 25 } as const;

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function emailBodies(message: PushMessage, link: string | null): { subject: string; text: string; html: string } {
  const text = `${message.body}\n${link ? `\n${link}\n` : ''}\n-- \nMission Control`;
  const lines = message.body.split('\n').map(escapeHtml).join('<br>');
  const html =
    `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.4">` +
    `<h2 style="font-size:1.1em;margin:0 0 .5em">${escapeHtml(message.title)}</h2><p style="margin:0 0 1em">${lines}</p>` +
    (link ? `<p><a href="${escapeHtml(link)}">Open in Mission Control</a></p>` : '') +
    `<p style="color:#777;font-size:.85em">Mission Control</p></body></html>`;
  // A subject is one line: a header with a newline in it would be another header.
  return { subject: message.title.replace(/[\r\n]+/g, ' '), text, html };
}

export async function sendEmail(destination: EmailDestination, message: PushMessage, link: string | null, password: string | null, timeoutMs: number): Promise<Attempt> {
  const { smtp } = destination;
  const transport = (await nodemailer()).createTransport({
    host: smtp.host,
    port: smtp.port ?? DEFAULT_PORTS[smtp.security],
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    ...(smtp.user ? { auth: { user: smtp.user, pass: password ?? '' } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  try {
    await transport.sendMail({ from: destination.from, to: destination.to, ...emailBodies(message, link), headers: { 'X-Mission-Control-Notice': message.tag } });
    return { ok: true };
  } catch (error) {
    const { responseCode, code, response } = error as { responseCode?: number; code?: string; response?: string };
    const final = (responseCode !== undefined && responseCode >= 500) || code === 'EAUTH' || code === 'EENVELOPE';
    return { ok: false, retry: !final, error: response ? `SMTP ${response}` : `${code ? `${code}: ` : ''}${networkError(error)}` };
  } finally {
    transport.close();
  }
}
