// The bodies each channel is sent, as its service documents them: text a job's name or log line could turn into
// markup or a mention is shown as written.
import { expect, it } from 'vitest';
import { emailBodies } from './email.js';
import { ntfyBody, ntfyTopic } from './ntfy.js';
import { webhookBody } from './webhook.js';
import type { PushMessage } from './web-push.js';

const message: PushMessage = {
  title: 'lr_sweep <!channel> @here failed',
  body: 'Exit code 1 · hpc\nloss *exploded* at step 3 & <b>',
  url: '/jobs/7',
  tag: 'job-7',
  jobId: 7,
  state: 'FAILED',
  cluster: 'hpc',
};
const link = 'https://mc.example.org/jobs/7';

it('Slack: text and blocks in mrkdwn, &, < and > escaped so nothing becomes a mention or a link', () => {
  expect(webhookBody('slack', message, link)).toEqual({
    text: '*lr_sweep &lt;!channel&gt; @here failed*\nExit code 1 · hpc\nloss *exploded* at step 3 &amp; &lt;b&gt;\n<https://mc.example.org/jobs/7|Open in Mission Control>',
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: '*lr_sweep &lt;!channel&gt; @here failed*\nExit code 1 · hpc\nloss *exploded* at step 3 &amp; &lt;b&gt;' } },
      { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open' }, url: link }] },
    ],
  });
  expect((webhookBody('slack', message, null) as { blocks: unknown[] }).blocks).toHaveLength(1);
});

it('Discord: content and an embed coloured by the outcome, markdown escaped, no mention ever pinged', () => {
  expect(webhookBody('discord', message, link)).toEqual({
    content: '**lr\\_sweep <!channel\\> @here failed**',
    embeds: [{ description: 'Exit code 1 · hpc\nloss \\*exploded\\* at step 3 & <b\\>', color: 0xc62828, title: 'Open in Mission Control', url: link }],
    allowed_mentions: { parse: [] },
  });
  expect((webhookBody('discord', { ...message, state: 'COMPLETED' }, null) as { embeds: Array<{ color: number; url?: string }> }).embeds[0]).toEqual({ description: expect.any(String), color: 0x2e7d32 });
});

it('Mattermost: text with a heading and a link; @mentions broken by a zero-width space', () => {
  expect(webhookBody('mattermost', message, link)).toEqual({
    text: '#### lr\\_sweep <!channel\\> @\u200bhere failed\nExit code 1 · hpc\nloss \\*exploded\\* at step 3 & <b\\>\n[Open in Mission Control](https://mc.example.org/jobs/7)',
  });
});

it('json: the notice itself with its absolute link', () => {
  expect(webhookBody('json', message, link)).toEqual({ ...message, link });
});

it('ntfy: a JSON publish to the server root with the topic, priority by name, a tag by outcome and the link to click', () => {
  expect(ntfyTopic('https://ntfy.example.org/sub/path/mc-topic')).toEqual({ root: 'https://ntfy.example.org/sub/path/', topic: 'mc-topic' });
  expect(ntfyTopic('https://ntfy.sh/mc-topic')).toEqual({ root: 'https://ntfy.sh/', topic: 'mc-topic' });
  expect(ntfyBody({ url: 'https://ntfy.sh/mc-topic', priority: 'urgent' }, message, link)).toEqual({ topic: 'mc-topic', title: message.title, message: message.body, priority: 5, tags: ['x'], click: link });
  expect(ntfyBody({ url: 'https://ntfy.sh/mc-topic', priority: 2 }, { ...message, state: undefined, tag: 'reauth-hpc' }, null)).toEqual({ topic: 'mc-topic', title: message.title, message: message.body, priority: 2, tags: ['key'] });
});

it('email: a one-line subject, a plain-text body and a small HTML one with everything escaped', () => {
  const { subject, text, html } = emailBodies({ ...message, title: 'a\r\nBcc: evil@example.org' }, link);
  expect(subject).toBe('a Bcc: evil@example.org');
  expect(text).toBe(`${message.body}\n\n${link}\n\n-- \nMission Control`);
  expect(html).toContain('<h2 style="font-size:1.1em;margin:0 0 .5em">a\r\nBcc: evil@example.org</h2>');
  expect(html).toContain('<p style="margin:0 0 1em">Exit code 1 · hpc<br>loss *exploded* at step 3 &amp; &lt;b&gt;</p>');
  expect(html).toContain(`<a href="${link}">Open in Mission Control</a>`);
});
