import { PageHeader } from '../components/page';

export default function NotFound() {
  return (
    <>
      <PageHeader title="Not found" />
      <p>There is no screen at this address.</p>
      <a href="/" class="button">
        Go home
      </a>
    </>
  );
}
