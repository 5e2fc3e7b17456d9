// SQLite's migrations (the embedded default), handed to the migrator as a list: under vitest, Node's own import() cannot load .ts files by glob.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123000000 } from './Migration20261123000000.js';
import { Migration20261123213838 } from './Migration20261123213838.js';
import { Migration20261124000100 } from './Migration20261124000100.js';
import { Migration20261124000200 } from './Migration20261124000200.js';
import { Migration20261204000000 } from './Migration20261204000000.js';
import { Migration20261205000000 } from './Migration20261205000000.js';
import { Migration20261205010000 } from './Migration20261205010000.js';
import { Migration20261205013500 } from './Migration20261205013500.js';
import { Migration20261205040000 } from './Migration20261205040000.js';
import { Migration20261205051700 } from './Migration20261205051700.js';
import { Migration20261205051710 } from './Migration20261205051710.js';
import { Migration20261205060000 } from './Migration20261205060000.js';
import { Migration20261205061000 } from './Migration20261205061000.js';
import { Migration20261205062000 } from './Migration20261205062000.js';
import { Migration20261205080000 } from './Migration20261205080000.js';
import { Migration20261205110000 } from './Migration20261205110000.js';
import { Migration20261205120000 } from './Migration20261205120000.js';
import { Migration20261205130000 } from './Migration20261205130000.js';
import { Migration20261206000000 } from './Migration20261206000000.js';
import { Migration20261206010000 } from './Migration20261206010000.js';
import { Migration20261206020000 } from './Migration20261206020000.js';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123000000', class: Migration20261123000000 },
  { name: 'Migration20261123213838', class: Migration20261123213838 },
  { name: 'Migration20261124000100', class: Migration20261124000100 },
  { name: 'Migration20261124000200', class: Migration20261124000200 },
  { name: 'Migration20261204000000', class: Migration20261204000000 },
  { name: 'Migration20261205000000', class: Migration20261205000000 },
  { name: 'Migration20261205010000', class: Migration20261205010000 },
  { name: 'Migration20261205013500', class: Migration20261205013500 },
  { name: 'Migration20261205040000', class: Migration20261205040000 },
  { name: 'Migration20261205051700', class: Migration20261205051700 },
  { name: 'Migration20261205051710', class: Migration20261205051710 },
  { name: 'Migration20261205060000', class: Migration20261205060000 },
  { name: 'Migration20261205061000', class: Migration20261205061000 },
  { name: 'Migration20261205062000', class: Migration20261205062000 },
  { name: 'Migration20261205080000', class: Migration20261205080000 },
  { name: 'Migration20261205110000', class: Migration20261205110000 },
  { name: 'Migration20261205120000', class: Migration20261205120000 },
  { name: 'Migration20261205130000', class: Migration20261205130000 },
  { name: 'Migration20261206000000', class: Migration20261206000000 },
  { name: 'Migration20261206010000', class: Migration20261206010000 },
  { name: 'Migration20261206020000', class: Migration20261206020000 },
];
