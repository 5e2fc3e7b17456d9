import { describe, expect, it } from 'vitest';
import { appendChunk, collapseCarriageReturns, highlight, logFromTail, logText } from './log';

describe('collapseCarriageReturns', () => {
  it('keeps the last state of each progress bar and treats CRLF as a line end', () => {
    expect(collapseCarriageReturns('a\r\nEpoch 1:  20%|\rEpoch 1: 100%|\ndone\n')).toBe('a\nEpoch 1: 100%|\ndone\n');
    expect(collapseCarriageReturns('plain\n')).toBe('plain\n');
  });
});

describe('a live log', () => {
  it('holds back an unterminated last line of the tail and replaces it when it was a progress bar', () => {
    const tail = logFromTail('config: train\nEpoch 1:  40%|████      | 2/5 [2.4s]', 458);
    expect(tail).toMatchObject({ text: 'config: train\n', partial: 'Epoch 1:  40%|████      | 2/5 [2.4s]', nextByte: 458 });
    const next = appendChunk(tail, { fromByte: 458, text: 'Epoch 1: 100%|██████████| 5/5 [6.0s]\ndone\n' });
    expect(logText(next)).toBe('config: train\nEpoch 1: 100%|██████████| 5/5 [6.0s]\ndone\n');
  });

  it('continues a line that was cut in the middle of being written', () => {
    const tail = logFromTail('loss=0.1\nstep 3 lo', 100);
    expect(logText(appendChunk(tail, { fromByte: 100, text: 'ss=0.05\n' }))).toBe('loss=0.1\nstep 3 loss=0.05\n');
  });

  it('ignores chunks it already has (a shared tail started earlier, or the same chunk twice)', () => {
    const tail = logFromTail('one\ntwo\n', 8);
    expect(appendChunk(tail, { fromByte: 0, text: 'one\ntwo\n' })).toBe(tail);
    const once = appendChunk(tail, { fromByte: 8, text: 'three\n' });
    expect(appendChunk(once, { fromByte: 8, text: 'three\n' })).toBe(once);
    expect(logText(appendChunk(once, { fromByte: 14, text: 'four\n' }))).toBe('one\ntwo\nthree\nfour\n');
  });

  it('collapses carriage-return lines in streamed chunks too', () => {
    const tail = logFromTail('', null);
    expect(tail.nextByte).toBe(0);
    expect(logText(appendChunk(tail, { fromByte: 0, text: 'a\rb\rc\n' }))).toBe('c\n');
  });
});

describe('highlight', () => {
  it('cuts the text around every case-insensitive match', () => {
    expect(highlight('Loss and LOSS', 'loss')).toEqual([
      { text: 'Loss', match: true },
      { text: ' and ', match: false },
      { text: 'LOSS', match: true },
    ]);
    expect(highlight('abc', '')).toEqual([{ text: 'abc', match: false }]);
    expect(highlight('abc', 'x')).toEqual([{ text: 'abc', match: false }]);
  });
});
