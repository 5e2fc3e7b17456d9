import { A } from '@solidjs/router';
import { PageHeader } from '../components/page';

export default function NotFound() {
  return (
    <>
      <PageHeader title="Not found" />
      <p>There is no screen at this address.</p>
      <A href="/" class="button">
        Go home
      </A>
    </>
  );
}
