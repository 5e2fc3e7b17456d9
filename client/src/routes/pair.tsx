// First run (or a refused token): pair this device with the server by pasting the token, scanning the QR code
// the server printed, or simply opening the pairing link with the phone's own camera app.
import { useNavigate, useSearchParams } from '@solidjs/router';
import { Show, createSignal, onCleanup } from 'solid-js';
import { ApiError, errorMessage, getToken, resync } from '../api/client';
import { pair, tokenFromText } from '../api/session';
import { PageHeader } from '../components/page';
import { notify } from '../components/toast';

interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<Array<{ rawValue: string }>>;
}
type BarcodeDetectorClass = new (options: { formats: string[] }) => BarcodeDetectorLike;
const Detector = (globalThis as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;

export default function Pair() {
  const navigate = useNavigate();
  const [params] = useSearchParams<{ next?: string; refused?: string }>();
  const [text, setText] = createSignal('');
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  const [scanning, setScanning] = createSignal(false);
  let video: HTMLVideoElement | undefined;
  let stream: MediaStream | null = null;
  let stopScan: () => void = () => undefined;

  const next = () => {
    const target = params.next ?? '/';
    return target.startsWith('/') && !target.startsWith('/pair') ? target : '/';
  };

  const submit = async (value: string) => {
    const token = tokenFromText(value);
    if (!token) {
      setError('Paste the token (it starts with mc_) or the whole pairing link.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const session = await pair(token);
      notify(session.tokenName ? `Paired as “${session.tokenName}”` : 'Paired');
      resync();
      navigate(next(), { replace: true });
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : errorMessage(failure));
    } finally {
      setBusy(false);
    }
  };

  const scan = async () => {
    if (!Detector) return;
    setError(null);
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    } catch {
      setError('The camera is not available here. Use the phone’s camera app on the QR code instead, or paste the token.');
      return;
    }
    setScanning(true);
    const detector = new Detector({ formats: ['qr_code'] });
    video!.srcObject = stream;
    await video!.play().catch(() => undefined);
    let active = true;
    stopScan = () => {
      active = false;
      stream?.getTracks().forEach((track) => track.stop());
      stream = null;
      setScanning(false);
    };
    const tick = async () => {
      if (!active) return;
      try {
        const codes = await detector.detect(video!);
        const found = codes.find((code) => /[#&]pair=|^mc_/.test(code.rawValue));
        if (found) {
          stopScan();
          setText(found.rawValue);
          await submit(found.rawValue);
          return;
        }
      } catch {
        // A frame that could not be read; try the next one.
      }
      setTimeout(() => void tick(), 250);
    };
    void tick();
  };
  onCleanup(() => stopScan());

  return (
    <>
      <PageHeader title="Pair this device" />
      <Show when={params.refused && !getToken()}>
        <p class="notice">This server needs a token from each device before it shows anything.</p>
      </Show>
      <div class="two-columns">
        <div class="stack">
          <Show when={params.refused && getToken()}>
            <p class="warning">The server did not accept this device’s token (it may have been revoked). Pair it again.</p>
          </Show>
          <p>Mission Control only answers devices that show one of its access tokens. On the computer running the server, the start-up message shows a pairing link and its QR code.</p>
          <p>
            <strong>Easiest:</strong> point your phone’s own camera app at that QR code and open the link: it opens this app already paired.
          </p>
          <form
            class="card stack"
            onSubmit={(event) => {
              event.preventDefault();
              void submit(text());
            }}
          >
            <div class="field">
              <label for="pair-token">Access token or pairing link</label>
              <input
                id="pair-token"
                type="text"
                autocomplete="off"
                autocapitalize="off"
                spellcheck={false}
                placeholder="mc_…"
                value={text()}
                onInput={(event) => setText(event.currentTarget.value)}
                aria-invalid={error() ? 'true' : undefined}
                aria-describedby={error() ? 'pair-error' : 'pair-hint'}
              />
              <span class="field-hint" id="pair-hint">
                On the server: <code>npm run token -- create --name phone</code>. A read-only token (<code>--read-only</code>) can watch but not launch or cancel.
              </span>
              <Show when={error()}>
                <p class="field-error" id="pair-error" role="alert">
                  {error()}
                </p>
              </Show>
            </div>
            <div class="card-actions">
              <button type="submit" class="button primary" disabled={busy()}>
                {busy() ? 'Checking…' : 'Pair'}
              </button>
              <Show when={Detector}>
                <button type="button" class="button" onClick={() => (scanning() ? stopScan() : void scan())}>
                  {scanning() ? 'Stop scanning' : 'Scan QR code'}
                </button>
              </Show>
            </div>
          </form>
        </div>
        <Show when={Detector}>
          <div class="stack" hidden={!scanning()}>
            <video ref={video} class="scanner" muted playsinline aria-label="Camera view for scanning the pairing QR code" />
          </div>
        </Show>
      </div>
    </>
  );
}
