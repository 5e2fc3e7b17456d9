// `npm run orm` (MikroORM's CLI) reads its config here: the server's database, by MC_DATABASE_URL, else MC_DB (a SQLite
// file), else the default data directory's file.
import { ormConfig } from './orm-config.js';

export default ormConfig(process.env.MC_DATABASE_URL ?? process.env.MC_DB ?? 'data/mission-control.sqlite');
