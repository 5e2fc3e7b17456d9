import { Client } from 'ssh2';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
const c = new Client();
const t0 = Date.now();
c.on('ready', () => {
  c.exec("sleep 61", (err, ch) => {
    ch.resume(); ch.stderr.resume();
    setTimeout(() => { console.log(execSync("pgrep -a -f 'sleep 61' || true").toString()); ch.close(); }, 500);
    ch.on('exit', (...a) => console.log('exit', a, Date.now()-t0));
    ch.on('close', (...a) => { console.log('close', a, Date.now()-t0); setTimeout(() => { console.log('after', execSync("pgrep -a -f 'sleep 61' || true").toString()); c.end(); }, 500); });
  });
});
c.connect({ host: '127.0.0.1', port: 2299, username: 'mlops', privateKey: readFileSync('/var/tmp/mission-control-lab/ssh/id_ed25519') });
