// PostgreSQL's migrations (the group server), handed to the migrator as a list as SQLite's are. Each one after the
// baseline has a twin of the same name in migrations/sqlite/.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261206010000 } from './Migration20261206010000.js';
import { Migration20261206020000 } from './Migration20261206020000.js';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261206010000', class: Migration20261206010000 },
  { name: 'Migration20261206020000', class: Migration20261206020000 },
];
