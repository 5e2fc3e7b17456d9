// The server as `npm start` runs it, except that it loads its modules first and starts only when told to (a line on
// stdin). The crash suite keeps one of these waiting per server it kills, so a restart costs startServer() alone and
// not seconds of module loading: the restarted server then looks up interrupted launches while the killed one's
// remote commands may still be finishing, which is the race a restart must survive.
import { optionsFromArgs, startServer, stopOnSignals } from '../../server/main.js';

const options = optionsFromArgs(process.argv.slice(2));
console.log('loaded');
process.stdin.once('data', () => {
  void startServer(options).then(
    (running) => {
      console.log(`Mission Control is running at ${running.url}`);
      stopOnSignals(running);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
