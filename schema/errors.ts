// Typed errors exposed to clients. Each issue that returns a new error class from a field adds its type here.
import { AppError, NotFoundError } from '../server/errors.js';
import { builder } from './builder.js';

export const ErrorInterface = builder.interfaceRef<AppError>('Error').implement({
  description: 'Every typed failure: ask `... on Error { message }`.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

builder.objectType(NotFoundError, { name: 'NotFoundError', interfaces: [ErrorInterface] });
