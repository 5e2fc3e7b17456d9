import { describe, expect, it } from 'vitest';
import { cleanLog, collapseProgress, extractWandbUrl, stripAnsi, trimPartialFirstLine } from './log-text.js';

// Recorded from tqdm 4.64.1 (Debian's python3-tqdm) writing to a file, as a SLURM job's output is:
// `for i in tqdm(range(100), desc=f"Epoch {epoch}", file=sys.stdout, mininterval=0, miniters=25, ncols=80)`
const TQDM_TWO_EPOCHS =
  '\rEpoch 0:   0%|                                          | 0/100 [00:00<?, ?it/s]' +
  '\rEpoch 0:  25%|███████                     | 25/100 [00:00<00:00, 2279513.04it/s]' +
  '\rEpoch 0:  50%|██████████████▌              | 50/100 [00:00<00:00, 481517.88it/s]' +
  '\rEpoch 0:  75%|█████████████████████▊       | 75/100 [00:00<00:00, 458231.52it/s]' +
  '\rEpoch 0: 100%|████████████████████████████| 100/100 [00:00<00:00, 478740.55it/s]' +
  '\rEpoch 0: 100%|████████████████████████████| 100/100 [00:00<00:00, 346923.41it/s]\n' +
  'epoch 0 loss=0.9\n' +
  '\rEpoch 1:   0%|                                          | 0/100 [00:00<?, ?it/s]' +
  '\rEpoch 1:  25%|███████                     | 25/100 [00:00<00:00, 5242880.00it/s]' +
  '\rEpoch 1:  50%|██████████████▌              | 50/100 [00:00<00:00, 660214.52it/s]' +
  '\rEpoch 1:  75%|█████████████████████▊       | 75/100 [00:00<00:00, 630874.02it/s]' +
  '\rEpoch 1: 100%|████████████████████████████| 100/100 [00:00<00:00, 638778.98it/s]' +
  '\rEpoch 1: 100%|████████████████████████████| 100/100 [00:00<00:00, 509635.97it/s]\n' +
  'epoch 1 loss=0.8\n';

// Same tqdm, an outer bar and an inner one at position=1, leave=False: the inner bar moves the cursor up (ESC [ A).
const TQDM_NESTED =
  '\repochs:   0%|                         | 0/2 [00:00<?, ?it/s]\n' +
  '\rbatches:   0%|                        | 0/4 [00:00<?, ?it/s]\x1b[A\n' +
  '\rbatches:  50%|██████      | 2/4 [00:00<00:00, 524288.00it/s]\x1b[A\n' +
  '\rbatches: 100%|█████████████| 4/4 [00:00<00:00, 46572.94it/s]\x1b[A\n' +
  '\r                                                            \x1b[A\repochs:  50%|███████▌       | 1/2 [00:00<00:00, 3631.43it/s]\n' +
  '\rbatches:   0%|                        | 0/4 [00:00<?, ?it/s]\x1b[A\n' +
  '\rbatches:  50%|██████      | 2/4 [00:00<00:00, 524288.00it/s]\x1b[A\n' +
  '\rbatches: 100%|█████████████| 4/4 [00:00<00:00, 33617.71it/s]\x1b[A\n' +
  '\r                                                            \x1b[A\repochs: 100%|███████████████| 2/2 [00:00<00:00, 3203.92it/s]' +
  '\repochs: 100%|███████████████| 2/2 [00:00<00:00, 3010.99it/s]\n' +
  'done\n';

describe('stripAnsi', () => {
  it('removes colours: basic, 256 and true colour, bold, reset', () => {
    expect(stripAnsi('\x1b[32mINFO\x1b[0m: GPU available: True (cuda), used: True')).toBe('INFO: GPU available: True (cuda), used: True');
    expect(stripAnsi('\x1b[1m\x1b[38;5;196mERROR\x1b[39m\x1b[22m \x1b[38;2;255;128;0mwarm\x1b[m')).toBe('ERROR warm');
  });

  it('removes cursor moves, erase-line and private modes', () => {
    expect(stripAnsi('\x1b[?25l\x1b[2K\x1b[1Gstep 3\x1b[A\x1b[10;20H\x1b[?25h')).toBe('step 3');
  });

  it('removes OSC titles and hyperlinks (BEL- and ST-terminated), keeping the link text', () => {
    expect(stripAnsi('\x1b]0;train.py\x07start')).toBe('start');
    expect(stripAnsi('run \x1b]8;id=1;https://wandb.ai/e/p/runs/x\x1b\\brisk-sun-42\x1b]8;;\x1b\\ ok')).toBe('run brisk-sun-42 ok');
  });

  it('removes single ESC codes: save/restore cursor, reverse index, charset, keypad', () => {
    expect(stripAnsi('\x1b7a\x1b8b\x1bMc\x1b(Bd\x1b=e\x1b>')).toBe('abcde');
  });

  it('removes sequences cut off by the end of the tail, and an unterminated OSC only to the end of its line', () => {
    expect(stripAnsi('loss 0.3\x1b[3')).toBe('loss 0.3');
    expect(stripAnsi('loss 0.3\x1b')).toBe('loss 0.3');
    expect(stripAnsi('a\x1b]8;;https://example.org\nnext line')).toBe('a\nnext line');
  });

  it('leaves text, tabs, \\r, \\n and non-ASCII alone', () => {
    const text = 'Epoch 1:\t10%|█   |\r\nvalidation ✓ — 🚀 [ok] (done)\n';
    expect(stripAnsi(text)).toBe(text);
  });
});

describe('collapseProgress', () => {
  it('keeps the last state of each tqdm bar (recorded bytes)', () => {
    expect(collapseProgress(TQDM_TWO_EPOCHS)).toBe(
      'Epoch 0: 100%|████████████████████████████| 100/100 [00:00<00:00, 346923.41it/s]\n' +
        'epoch 0 loss=0.9\n' +
        'Epoch 1: 100%|████████████████████████████| 100/100 [00:00<00:00, 509635.97it/s]\n' +
        'epoch 1 loss=0.8\n',
    );
  });

  it('reads CRLF line ends as line ends, not as progress updates', () => {
    expect(collapseProgress('first\r\nsecond\r\n')).toBe('first\nsecond\n');
    expect(collapseProgress('10%\r50%\r100%\r\n')).toBe('100%\n');
    expect(collapseProgress('doubled\r\r\n')).toBe('doubled\n');
  });

  it('shows the current state of a bar still running at the end of the tail', () => {
    expect(collapseProgress('loaded\nEpoch 3:  10%|█ | 10/100\rEpoch 3:  20%|██ | 20/100')).toBe('loaded\nEpoch 3:  20%|██ | 20/100');
  });

  it('leaves text without \\r unchanged', () => {
    expect(collapseProgress('a\nb\n\nc')).toBe('a\nb\n\nc');
    expect(collapseProgress('')).toBe('');
  });
});

describe('cleanLog', () => {
  // pytorch-lightning's TQDMProgressBar colours the bar; a colour code must not survive between two \r states.
  const lightning =
    '\x1b[32mINFO\x1b[0m: LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0,1]\n' +
    '\rEpoch 0:  10%|\x1b[32m█         \x1b[0m| 10/100 [00:01<00:09, 9.5it/s, v_num=0]' +
    '\rEpoch 0:  20%|\x1b[32m██        \x1b[0m| 20/100 [00:02<00:08, 9.6it/s, v_num=0]\n';

  it('strips colours and collapses progress when asked', () => {
    expect(cleanLog(lightning, { collapseProgress: true })).toBe(
      'INFO: LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0,1]\nEpoch 0:  20%|██        | 20/100 [00:02<00:08, 9.6it/s, v_num=0]\n',
    );
  });

  it('keeps every progress state (only without colours) when not', () => {
    const cleaned = cleanLog(lightning, { collapseProgress: false });
    expect(cleaned).not.toContain('\x1b');
    expect(cleaned).toContain('\rEpoch 0:  10%|█         | 10/100');
    expect(cleaned).toContain('\rEpoch 0:  20%|██        | 20/100');
  });

  it('turns nested tqdm bars (cursor-up codes) into readable lines ending in the final state', () => {
    const cleaned = cleanLog(TQDM_NESTED, { collapseProgress: true });
    expect(cleaned).not.toMatch(/[\x1b\r]/);
    expect(cleaned.split('\n').slice(-3)).toEqual(['epochs: 100%|███████████████| 2/2 [00:00<00:00, 3010.99it/s]', 'done', '']);
  });
});

describe('trimPartialFirstLine', () => {
  it('keeps everything when the tail is the whole file', () => {
    expect(trimPartialFirstLine(Buffer.from('first line\nsecond\n'), true)).toEqual({ text: 'first line\nsecond\n', droppedBytes: 0 });
  });

  it('drops the partial first line, cut in the middle of a 2-byte character', () => {
    const file = Buffer.from('résumé of epoch 1\nepoch 2 ✓\n');
    const tail = file.subarray(2); // starts at the second byte of "é"
    expect(tail[0]).toBe(0xa9);
    expect(trimPartialFirstLine(tail, false)).toEqual({ text: 'epoch 2 ✓\n', droppedBytes: Buffer.byteLength('sumé of epoch 1\n') + 1 });
  });

  it('drops the partial first line, cut in the middle of a 4-byte emoji', () => {
    const file = Buffer.from('wandb: 🚀 View run\nnext\n');
    const tail = file.subarray(9); // inside the 4 bytes of 🚀 (bytes 7–10)
    const { text, droppedBytes } = trimPartialFirstLine(tail, false);
    expect(text).toBe('next\n');
    expect(droppedBytes).toBe(tail.indexOf(0x0a) + 1);
    expect(text).not.toContain('\ufffd');
  });

  it('treats CRLF like LF', () => {
    expect(trimPartialFirstLine(Buffer.from('tial line\r\nnext\r\n'), false)).toEqual({ text: 'next\r\n', droppedBytes: 11 });
  });

  it('keeps the newer progress states of a tail that is all one \\r-only tqdm line', () => {
    const bar = Buffer.from(TQDM_TWO_EPOCHS.split('\n')[0] ?? '');
    const tail = bar.subarray(30); // mid-way through the first state
    const { text, droppedBytes } = trimPartialFirstLine(tail, false);
    expect(text.startsWith('Epoch 0:  25%|')).toBe(true);
    expect(droppedBytes).toBe(tail.indexOf(0x0d) + 1);
    expect(collapseProgress(text)).toBe('Epoch 0: 100%|████████████████████████████| 100/100 [00:00<00:00, 346923.41it/s]');
  });

  it('without any line break, starts at the first whole character rather than showing nothing', () => {
    const tail = Buffer.from('✓✓✓ one very long line').subarray(1);
    expect(trimPartialFirstLine(tail, false)).toEqual({ text: '✓✓ one very long line', droppedBytes: 2 });
    expect(trimPartialFirstLine(Buffer.alloc(0), false)).toEqual({ text: '', droppedBytes: 0 });
    expect(trimPartialFirstLine(Buffer.from('only\n'), false)).toEqual({ text: '', droppedBytes: 5 });
  });
});

describe('extractWandbUrl', () => {
  it('reads the start-of-run banner of current wandb versions', () => {
    const log = [
      'wandb: Currently logged in as: alice (ml-team). Use `wandb login --relogin` to force relogin',
      'wandb: Tracking run with wandb version 0.17.0',
      'wandb: Run data is saved locally in /home/alice/runs/wandb/run-20261123_213552-3kx9q2ab',
      'wandb: Run `wandb offline` to turn off syncing.',
      'wandb: Syncing run brisk-sun-42',
      'wandb: ⭐️ View project at https://wandb.ai/ml-team/llama-ft',
      'wandb: 🚀 View run at https://wandb.ai/ml-team/llama-ft/runs/3kx9q2ab',
      'Epoch 0:   0%|          | 0/100',
    ].join('\n');
    expect(extractWandbUrl(log)).toBe('https://wandb.ai/ml-team/llama-ft/runs/3kx9q2ab');
  });

  it('reads the end-of-run summary ("View run NAME at: URL"), all a long log’s tail may still hold', () => {
    const log = [
      'wandb: Run summary:',
      'wandb:   train/loss 0.1234',
      'wandb: 🚀 View run brisk-sun-42 at: https://wandb.ai/ml-team/llama-ft/runs/3kx9q2ab',
      'wandb: ⭐️ View project at: https://wandb.ai/ml-team/llama-ft',
      'wandb: Synced 5 W&B file(s), 0 media file(s), 2 artifact file(s) and 0 other file(s)',
    ].join('\n');
    expect(extractWandbUrl(log)).toBe('https://wandb.ai/ml-team/llama-ft/runs/3kx9q2ab');
  });

  it('reads older banners: no emoji (two spaces), a sweep link first, and 0.8’s "Syncing run NAME: URL"', () => {
    const sweep = [
      'wandb: Tracking run with wandb version 0.12.7',
      'wandb: Syncing run splendid-sweep-1',
      'wandb:  View project at https://wandb.ai/bob/uncategorized',
      'wandb:  View sweep at https://wandb.ai/bob/uncategorized/sweeps/7w9xi059',
      'wandb:  View run at https://wandb.ai/bob/uncategorized/runs/mey3t37m',
    ].join('\n');
    expect(extractWandbUrl(sweep)).toBe('https://wandb.ai/bob/uncategorized/runs/mey3t37m');
    expect(extractWandbUrl('wandb: Syncing run peach-dust-1: https://app.wandb.ai/alice/proj/runs/abc123\n')).toBe('https://app.wandb.ai/alice/proj/runs/abc123');
  });

  it('reads self-hosted servers, with or without the "wandb:" prefix', () => {
    expect(extractWandbUrl('wandb: 🚀 View run at https://wandb.mycompany.internal/ent/proj/runs/x1\n')).toBe('https://wandb.mycompany.internal/ent/proj/runs/x1');
    expect(extractWandbUrl('View run at https://wandb.mycompany.internal/ent/proj/runs/x1\n')).toBe('https://wandb.mycompany.internal/ent/proj/runs/x1');
    expect(extractWandbUrl('🚀 View run brisk-sun-42 at: http://10.0.0.5:8080/ent/proj/runs/x1\n')).toBe('http://10.0.0.5:8080/ent/proj/runs/x1');
  });

  it('reads a URL on a later line after "Syncing run", as a re-formatting logger prints it', () => {
    const log = [
      '[2026-11-23 21:35:52][I][setup_wandb] Syncing run vivid-glade-86',
      '[2026-11-23 21:35:52][I][setup_wandb] project: https://ml.example.org/aurora/fsdp',
      '[2026-11-23 21:35:52][I][setup_wandb] https://ml.example.org/aurora/fsdp/runs/11cqdt05',
    ].join('\n');
    expect(extractWandbUrl(log)).toBe('https://ml.example.org/aurora/fsdp/runs/11cqdt05');
  });

  it('reads through colours, hyperlinks and progress bars on the same line', () => {
    expect(extractWandbUrl('wandb: 🚀 View run at \x1b[34m\x1b[4mhttps://wandb.ai/e/p/runs/abc\x1b[0m\n')).toBe('https://wandb.ai/e/p/runs/abc');
    expect(
      extractWandbUrl('wandb: 🚀 View run \x1b]8;;https://wandb.ai/e/p/runs/abc\x1b\\brisk-sun-42\x1b]8;;\x1b\\ at: \x1b[34mhttps://wandb.ai/e/p/runs/abc\x1b[0m\n'),
    ).toBe('https://wandb.ai/e/p/runs/abc');
    expect(extractWandbUrl('\rEpoch 0:  10%|█ | 10/100\rwandb: 🚀 View run at https://wandb.ai/e/p/runs/abc\r\n')).toBe('https://wandb.ai/e/p/runs/abc');
  });

  it('takes the first run a log names and drops trailing punctuation', () => {
    const log = 'wandb: Synced brisk-sun-42: https://wandb.ai/e/p/runs/first.\nwandb: 🚀 View run at https://wandb.ai/e/p/runs/second\n';
    expect(extractWandbUrl(log)).toBe('https://wandb.ai/e/p/runs/first');
  });

  it('ignores URLs with /runs/ on lines that are not about a W&B run', () => {
    const unrelated = [
      'Downloading artifacts from https://github.com/org/repo/actions/runs/123456',
      'see https://example.com/team/proj/runs/abc for last week’s results',
      // MLflow and Kubeflow say "View run … at" too, with a #-route
      '🏃 View run upbeat-fox-123 at: http://127.0.0.1:5000/#/experiments/0/runs/7f3c9a',
      'view run at https://kf.example.org/_/pipeline/#/runs/details/abc',
      // GitHub's run URLs have three segments before /runs/
      'View run at https://github.com/org/repo/actions/runs/123456',
      'wandb: ⭐️ View project at https://wandb.ai/ml-team/llama-ft',
      'wandb:  View sweep at https://wandb.ai/bob/uncategorized/sweeps/7w9xi059',
      'wandb: You can sync this run to the cloud by running:',
      'wandb: wandb sync /home/alice/wandb/offline-run-20261123_213552-3kx9q2ab',
      'wandb.run=[vivid-glade-86](https://wandb.ai/aurora/fsdp/runs/11cqdt05)',
    ].join('\n');
    expect(extractWandbUrl(unrelated)).toBeNull();
    expect(extractWandbUrl('')).toBeNull();
  });

  it('forgets "Syncing run" after a few lines', () => {
    const log = ['wandb: Syncing run brisk-sun-42', 'a', 'b', 'c', 'd', 'e', 'f', 'results: https://example.com/team/proj/runs/abc'].join('\n');
    expect(extractWandbUrl(log)).toBeNull();
  });
});
