import { Route, Router } from '@solidjs/router';
import { lazy } from 'solid-js';
import { render } from 'solid-js/web';
import { setToken } from './api/client';
import { prefetchJob } from './api/jobs';
import { prefetchSweep } from './api/sweeps';
import { Shell, pairingLink } from './app';
import Home from './routes/home';
import NotFound from './routes/not-found';
import './styles.css';

// A pairing link (`<publicUrl>/#pair=<token>`, the server's QR code) carries the token in the fragment, which
// never reaches server logs. Store it and drop it from the address bar (and history) before anything renders.
const pairing = /^#pair=([^&]+)/.exec(location.hash);
if (pairing) {
  setToken(decodeURIComponent(pairing[1]!));
  history.replaceState(history.state, '', location.pathname + location.search);
  pairingLink.opened = true;
}

const Project = lazy(() => import('./routes/project'));
const Launch = lazy(() => import('./routes/launch'));
const Lineage = lazy(() => import('./routes/lineage'));
const Job = lazy(() => import('./routes/job'));
const Sweep = lazy(() => import('./routes/sweep'));
const Compare = lazy(() => import('./routes/compare'));
const Clusters = lazy(() => import('./routes/clusters'));
const Settings = lazy(() => import('./routes/settings'));
const Usage = lazy(() => import('./routes/usage'));
const Pair = lazy(() => import('./routes/pair'));

// Links throughout are plain <a>: the router takes their clicks. Its <A> builds active-state tracking for every
// link, a cost on each list row that only the main navigation needs (app.tsx marks it).
render(
  () => (
    <Router root={Shell}>
      <Route path="/" component={Home} />
      <Route path="/projects/:id" component={Project} />
      <Route path="/projects/:id/launch" component={Launch} />
      <Route path="/projects/:id/lineage" component={Lineage} />
      <Route path="/jobs/:id" component={Job} preload={({ params }) => /^\d+$/.test(params.id!) && prefetchJob(Number(params.id))} />
      <Route path="/sweeps/:id" component={Sweep} preload={({ params }) => /^\d+$/.test(params.id!) && prefetchSweep(Number(params.id))} />
      <Route path="/compare" component={Compare} />
      <Route path="/clusters" component={Clusters} />
      <Route path="/usage" component={Usage} />
      <Route path="/settings" component={Settings} />
      <Route path="/pair" component={Pair} />
      <Route path="*" component={NotFound} />
    </Router>
  ),
  document.getElementById('root')!,
);
