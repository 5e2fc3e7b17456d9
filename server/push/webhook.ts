// Chat webhooks: a notice as the JSON body Slack, Discord or Mattermost take from an incoming webhook, or as the
// notice itself (json) for anything else. A job's name and its log line are text anyone with a login could have set:
// they are escaped so they neither format the message nor mention a whole channel.
import type { WebhookDestination } from '../config.js';
import { postJson, type Attempt } from './post-json.js';
import type { PushMessage } from './web-push.js';

// Green for a success, red for a failure, amber for the rest (Discord's embed colour, Slack's attachment bar).
const GOOD = new Set(['COMPLETED', 'RUNNING']);
const BAD = new Set(['FAILED', 'OUT_OF_MEMORY', 'NODE_FAIL', 'SUBMIT_FAILED', 'TIMEOUT']);
const colour = (state: string | undefined) => (state && GOOD.has(state) ? 0x2e7d32 : state && BAD.has(state) ? 0xc62828 : 0xf9a825);

/** Slack's mrkdwn takes &, < and > as markup (<!channel> is a mention): its documented escapes. */
const slackEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Markdown's own characters, as Discord and Mattermost read them, shown as written. */
const markdownEscape = (text: string) => text.replace(/([\\`*_[\]#|>~])/g, '\\$1');

/** Mattermost pings @channel, @all, @here and people from webhook text too: a zero-width space after @ keeps the word, not the ping. */
const mattermostEscape = (text: string) => markdownEscape(text).replace(/@/g, '@\u200b');

export function webhookBody(format: WebhookDestination['format'], message: PushMessage, link: string | null): unknown {
  switch (format) {
    case 'slack': {
      const text = `*${slackEscape(message.title)}*\n${slackEscape(message.body)}${link ? `\n<${link}|Open in Mission Control>` : ''}`;
      // text is what a notification and an old client show; the blocks are what the channel shows.
      return {
        text,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(message.title)}*\n${slackEscape(message.body)}` } },
          ...(link ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open' }, url: link }] }] : []),
        ],
      };
    }
    case 'discord':
      return {
        content: `**${markdownEscape(message.title)}**`,
        embeds: [{ description: markdownEscape(message.body), color: colour(message.state), ...(link ? { title: 'Open in Mission Control', url: link } : {}) }],
        // Neither @everyone nor a role nor a person is pinged, whatever a job's name says.
        allowed_mentions: { parse: [] },
      };
    case 'mattermost':
      return { text: `#### ${mattermostEscape(message.title)}\n${mattermostEscape(message.body)}${link ? `\n[Open in Mission Control](${link})` : ''}` };
    case 'json':
      return { ...message, link };
  }
}

export function sendWebhook(destination: WebhookDestination, url: string, message: PushMessage, link: string | null, timeoutMs: number): Promise<Attempt> {
  return postJson(url, webhookBody(destination.format, message, link), { timeoutMs });
}
