import type { Session } from '../server/access/session.js';
import { builder } from './builder.js';

const SessionRef = builder.objectRef<Session>('Session').implement({
  description: 'Who is asking: the API token this request authenticated with, and what it may do.',
  fields: (t) => ({
    tokenName: t.exposeString('tokenName', { nullable: true, description: 'null when the server runs without tokens (loopback only, opted out) and none was sent.' }),
    readOnly: t.exposeBoolean('readOnly', { description: 'Mutations are refused (FORBIDDEN).' }),
    authRequired: t.exposeBoolean('authRequired', { description: 'The server refuses requests without a valid token.' }),
  }),
});

builder.queryFields((t) => ({
  session: t.field({
    type: SessionRef,
    description: "The caller's session; an app calls it to check a token it was given.",
    resolve: (_root, _args, ctx) => ctx.session,
  }),
}));
