import { describe, expect, it } from 'vitest';
import { tokenFromText } from './session';
import { base64UrlToBytes } from './push';

describe('pairing input', () => {
  it('takes the token from a pasted pairing link or the token itself', () => {
    expect(tokenFromText('  mc_abc-DEF_123 ')).toBe('mc_abc-DEF_123');
    expect(tokenFromText('https://mc.example.org/#pair=mc_abc-DEF_123')).toBe('mc_abc-DEF_123');
    expect(tokenFromText('http://127.0.0.1:4000/#pair=mc_x%2Dy')).toBe('mc_x-y');
  });
});

describe('VAPID keys', () => {
  it('turn from base64url into the bytes pushManager.subscribe wants', () => {
    expect([...base64UrlToBytes('AQID_-8')]).toEqual([1, 2, 3, 255, 239]);
  });
});
