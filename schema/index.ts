import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './errors.js';
import './cluster.js';
import './project.js';
import './job.js';
import './sweep.js';
import './metrics.js';
import './pending.js';
import './restarts.js';
import './gpu.js';
import './launch-limits.js';
import './fairshare.js';
import './session.js';
import './push.js';
import './usage.js';

export const schema = lexicographicSortSchema(builder.toSchema());
