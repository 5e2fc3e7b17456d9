// ntfy (ntfy.sh or a self-hosted server): a notice as one JSON publish to the server's root with the topic in the
// body, so titles keep their non-ASCII characters ("·", "…"), which ntfy's header form cannot carry unencoded.
// https://docs.ntfy.sh/publish/#publish-as-json
import type { NtfyDestination } from '../config.js';
import { postJson, type Attempt } from './post-json.js';
import type { PushMessage } from './web-push.js';

const PRIORITIES = { min: 1, low: 2, default: 3, high: 4, urgent: 5 } as const;

// ntfy shows a tag that names an emoji as that emoji before the title: the outcome at a glance.
const STATE_TAGS: Record<string, string> = {
  COMPLETED: 'white_check_mark',
  COMPLETED_WITH_FAILURES: 'warning',
  FAILED: 'x',
  OUT_OF_MEMORY: 'x',
  NODE_FAIL: 'x',
  SUBMIT_FAILED: 'x',
  TIMEOUT: 'hourglass',
  CANCELLED: 'no_entry_sign',
  PREEMPTED: 'no_entry_sign',
};

/** The server's root and the topic, from the topic URL the app subscribes to. */
export function ntfyTopic(url: string): { root: string; topic: string } {
  const parsed = new URL(url);
  const parts = parsed.pathname.split('/').filter(Boolean);
  const topic = parts.pop()!;
  parsed.pathname = `/${parts.map((part) => `${part}/`).join('')}`;
  return { root: parsed.toString(), topic: decodeURIComponent(topic) };
}

export function ntfyBody(destination: Pick<NtfyDestination, 'url' | 'priority'>, message: PushMessage, link: string | null) {
  const priority = typeof destination.priority === 'string' ? PRIORITIES[destination.priority] : destination.priority;
  const tag = message.state ? STATE_TAGS[message.state] : message.tag.startsWith('reauth-') ? 'key' : undefined;
  return {
    topic: ntfyTopic(destination.url).topic,
    title: message.title,
    message: message.body,
    ...(priority ? { priority } : {}),
    ...(tag ? { tags: [tag] } : {}),
    ...(link ? { click: link } : {}),
  };
}

export function sendNtfy(destination: NtfyDestination, message: PushMessage, link: string | null, token: string | null, timeoutMs: number): Promise<Attempt> {
  return postJson(ntfyTopic(destination.url).root, ntfyBody(destination, message, link), { headers: token ? { authorization: `Bearer ${token}` } : {}, timeoutMs });
}
